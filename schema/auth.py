"""Who is asking: a Bearer token (the mobile app), else the browser session
(GraphiQL after a Django admin login). Anything else is anonymous."""

from __future__ import annotations

from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware

from calendarapp.models import AuthToken, User, hash_token


class CsrfRejected(Exception):
    pass


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


def viewer_for_request(request: HttpRequest) -> User | None:
    """The logged-in user, or None. A missing or invalid token is anonymous.

    Raises CsrfRejected for a session-authenticated POST without a valid CSRF
    token: a cookie alone must not let another site act for the user.
    """
    header = request.headers.get("Authorization")
    if header is not None:
        return _user_for_token_header(header)
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        check = _CsrfCheck(lambda _request: None)
        check.process_request(request)
        reason = check.process_view(request, None, (), {})
        if reason:
            raise CsrfRejected(reason)
    return user


def _user_for_token_header(header: str) -> User | None:
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    found = (
        AuthToken.objects.select_related("user")
        .filter(key_hash=hash_token(token), user__is_active=True)
        .only("user")
        .first()
    )
    return found.user if found else None
