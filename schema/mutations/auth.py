from __future__ import annotations

import graphene
from django.contrib.auth import authenticate

from calendarapp import services
from calendarapp.models import AuthToken
from throttling import logins
from throttling.passwords import password_checks

from ..errors import Unauthenticated
from ..types import UserType
from .base import CalendarMutation


class AuthPayloadMixin:
    token = graphene.String(required=True, description="Send as `Authorization: Bearer <token>`.")
    viewer = graphene.Field(UserType, required=True)

    @classmethod
    def logged_in(cls, info, user, token):
        info.context.log_in(user)
        return cls(token=token, viewer=user)


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
            user, token = services.signup(username, password, display_name, timezone)
        return cls.logged_in(info, user, token)


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
        return cls.logged_in(info, user, AuthToken.issue(user))
