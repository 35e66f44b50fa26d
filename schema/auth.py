"""Who is asking: a Bearer token (the mobile app), else the browser session (GraphiQL
after a Django admin login). Anything else is anonymous.

A request whose token does not authenticate (malformed, unknown, expired, revoked) is
anonymous too, and its response says so in `WWW-Authenticate: Bearer error="invalid_token"`
(RFC 6750), so that an app can tell "logged out" from "never logged in". A request with no
Authorization header gets no such header. The status stays the contract's (an anonymous
query is answered 200, its fields UNAUTHENTICATED).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.debug import sensitive_variables

from calendarapp import tokens
from calendarapp.models import AuthToken, User
from calendarapp.tokens import Refusal

# RFC 6750's b64token; and longer than this is no token of ours (ours have 43 characters).
# Anything else is refused without looking it up.
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_TOKEN_LENGTH = 200


class CsrfRejected(Exception):
    pass


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


def _no_view(request: HttpRequest) -> HttpResponse:
    """The view and next middleware `_CsrfCheck` is given: never called (the check only
    reads the view's `csrf_exempt` mark)."""
    raise AssertionError("the CSRF check calls no view")


@dataclass(frozen=True)
class Credentials:
    """How a request authenticated: its viewer and the token or session that proved it; or,
    when a token was sent that does not authenticate, why (`refusal`)."""

    viewer: User | None = None
    token: AuthToken | None = None
    by_session: bool = False
    refusal: Refusal | None = None


ANONYMOUS = Credentials()


@sensitive_variables()  # the token: never in an error report's frames
def authenticate(request: HttpRequest) -> Credentials:
    """The request's credentials; a missing or invalid token is anonymous. Costs one SQL
    statement for a well-formed token (and, once a day per token, an UPDATE), none otherwise.

    Raises CsrfRejected for a session-authenticated POST without a valid CSRF
    token: a cookie alone must not let another site act for the user.
    """
    header = request.headers.get("Authorization")
    if header is not None:  # even a blank one: then no session either, as always
        return _credentials_for_header(header)
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ANONYMOUS
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        check = _CsrfCheck(_no_view)
        check.process_request(request)
        reason = check.process_view(request, _no_view, (), {})
        if reason:
            raise CsrfRejected(reason)
    return Credentials(viewer=user, by_session=True)


@sensitive_variables()
def malformed_header(request: HttpRequest) -> Refusal | None:
    """Refusal.MALFORMED if the request carries an Authorization header that is not a Bearer
    token: what can be told of its token without SQL, for a request refused before the
    token is looked up."""
    header = request.headers.get("Authorization")
    if header is None or not header.strip() or bearer_token(header) is not None:
        return None
    return Refusal.MALFORMED


@sensitive_variables()
def bearer_token(header: str) -> str | None:
    """The token of `Bearer <token>` (the scheme in any case), or None if the header is not one."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or len(token) > MAX_TOKEN_LENGTH or not B64TOKEN.fullmatch(token):
        return None
    return token


def challenge(response: HttpResponse, refusal: Refusal | None) -> HttpResponse:
    """`response`, telling the client its token was refused, if it was (RFC 6750, section 3)."""
    if refusal is not None:
        response["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{refusal.value}"'
    return response


@sensitive_variables()
def _credentials_for_header(header: str) -> Credentials:
    if not header.strip():  # a blank header presents no credentials: anonymous, no challenge
        return ANONYMOUS
    token = bearer_token(header)
    if token is None:
        return Credentials(refusal=Refusal.MALFORMED)
    checked = tokens.check(token)
    if checked.token is None:
        return Credentials(refusal=checked.refusal)
    return Credentials(viewer=checked.token.user, token=checked.token)
