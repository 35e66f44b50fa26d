"""`signup`, `login` and `logout`: tokens issued, each with its expiry, and revoked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import graphene
from django.contrib.auth import authenticate, logout as end_session
from django.views.decorators.debug import sensitive_variables

from calendarapp import services
from calendarapp.models import AuthToken
from throttling import logins
from throttling.passwords import password_checks

from ..errors import Unauthenticated
from ..scalars import DateTime
from ..types import UserType
from .base import CalendarMutation


class AuthPayloadMixin:
    if TYPE_CHECKING:
        # The mutation it is mixed into makes its payload from these fields.
        def __init__(self, **fields: Any) -> None: ...

    token = graphene.String(required=True, description="Send as `Authorization: Bearer <token>`.")
    expires_at = DateTime(
        required=True,
        description="When the token expires unless used: each use pushes this back (up to a day late), "
        "never past a maximum age from its issue. Revoked earlier by `logout`.",
    )
    viewer = graphene.Field(UserType, required=True)

    @classmethod
    @sensitive_variables("token")
    def logged_in(cls, info, user):
        """A new token for `user`, and the rest of the operation acting as them."""
        request = info.context.request
        user_agent = request.headers.get("User-Agent", "") if request is not None else ""
        token, row = AuthToken.create_for(user, user_agent)
        info.context.log_in(user, row)
        return cls(token=token, expires_at=row.expires_at, viewer=user)


class Signup(AuthPayloadMixin, CalendarMutation):
    requires_viewer = False

    class Input:
        username = graphene.String(required=True)
        password = graphene.String(required=True)
        display_name = graphene.String(required=True)
        timezone = graphene.String(required=True, description='IANA name, e.g. "Europe/Paris".')

    @classmethod
    def perform(cls, info, viewer, username, password, display_name, timezone):
        logins.count_signup_attempt(info.context.client_address)
        with password_checks.check():
            user = services.signup(username, password, display_name, timezone)
        return cls.logged_in(info, user)


class Login(AuthPayloadMixin, CalendarMutation):
    requires_viewer = False

    class Input:
        username = graphene.String(required=True)
        password = graphene.String(required=True)

    @classmethod
    def perform(cls, info, viewer, username, password):
        address = info.context.client_address
        logins.check_login_allowed(username, address)  # before hashing: a refusal costs nothing
        with password_checks.check():
            user = authenticate(username=username, password=password)
        if user is None:
            logins.record_login_failure(username, address)
            raise Unauthenticated("Wrong username or password.")
        logins.record_login_success(username)
        return cls.logged_in(info, user)


class Logout(CalendarMutation):
    """Revoke the token this request is sent with, or (`allDevices`) every token of the
    viewer. A browser session (GraphiQL) is ended too. Whatever follows in the same batch
    runs anonymously."""

    class Input:
        all_devices = graphene.Boolean(
            default_value=False, description="Revoke every token of the viewer, not only this one."
        )

    revoked_tokens = graphene.Int(required=True, description="How many tokens this revoked.")

    @classmethod
    def perform(cls, info, viewer, all_devices):
        context = info.context
        request_token = context.credentials.token
        if all_devices:
            revoked = AuthToken.objects.filter(user=viewer).revoke()
        elif context.token is not None:
            revoked = AuthToken.objects.filter(pk=context.token.pk).revoke()
        else:  # a session and no token: nothing to revoke
            revoked = 0
        ended_request_token = request_token is not None and (
            context.token is request_token or (all_devices and request_token.user_id == viewer.pk)
        )
        ended_session = context.by_session
        if ended_session:
            end_session(context.request)
        context.log_out(ended_request_token or ended_session)
        return cls(revoked_tokens=revoked)


__all__ = ["Login", "Logout", "Signup"]
