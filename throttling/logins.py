"""Failed logins counted by username and by client address, and signups by address.

docs/api.md: after LOGIN_FAILURES_PER_USERNAME failed logins for one username within
LOGIN_FAILURE_WINDOW seconds, every login for that username (the right password too) is
RATE_LIMITED until the window has passed; after LOGIN_FAILURES_PER_ADDRESS failed logins
from one address within the window, every login from that address is. Unknown usernames
count like known ones, so the answers tell nothing about who exists. A successful login
clears its username's failures (not its address's). SIGNUPS_PER_ADDRESS signups (tried,
successful or not: each one costs a password hash) per SIGNUP_WINDOW seconds per address.

A check comes before the password is checked, so a refused login costs no hashing.
"""

from __future__ import annotations

from django.conf import settings

from calendarapp.usernames import username_key as same_name_key
from schema.errors import RateLimited

from .counters import counter_key, counters


def username_key(username: str) -> str:
    """One count per username however it is spelled (case, Unicode forms): the key usernames
    are compared by, so `ALICE` and `alice` share one allowance."""
    return counter_key("login-username", same_name_key(username))


def address_key(address: str) -> str:
    return counter_key("login-address", address)


def check_login_allowed(username: str, address: str) -> None:
    """Raise RateLimited if logins for this username, or from this address, are blocked."""
    window = settings.LOGIN_FAILURE_WINDOW
    store = counters()
    by_username = store.window_verdict(username_key(username), settings.LOGIN_FAILURES_PER_USERNAME, window)
    if not by_username.allowed:
        raise RateLimited("Too many failed logins for this username: try again later.", by_username.retry_after)
    by_address = store.window_verdict(address_key(address), settings.LOGIN_FAILURES_PER_ADDRESS, window)
    if not by_address.allowed:
        raise RateLimited("Too many failed logins from your network: try again later.", by_address.retry_after)


def record_login_failure(username: str, address: str) -> None:
    window = settings.LOGIN_FAILURE_WINDOW
    store = counters()
    store.record_event(username_key(username), settings.LOGIN_FAILURES_PER_USERNAME, window)
    store.record_event(address_key(address), settings.LOGIN_FAILURES_PER_ADDRESS, window)


def record_login_success(username: str) -> None:
    counters().forget(username_key(username))


def count_signup_attempt(address: str) -> None:
    """Count a signup from `address`, or raise RateLimited if it has had its share."""
    key, limit, window = counter_key("signup-address", address), settings.SIGNUPS_PER_ADDRESS, settings.SIGNUP_WINDOW
    store = counters()
    verdict = store.window_verdict(key, limit, window)
    if not verdict.allowed:
        raise RateLimited("Too many signups from your network: try again later.", verdict.retry_after)
    store.record_event(key, limit, window)
