"""Bearer tokens that end: checking one on a request, recording its use, and the sweep.

A token authenticates until it expires or is revoked. It expires AUTH_TOKEN_IDLE_TIMEOUT
after its last recorded use, and at most AUTH_TOKEN_MAX_AGE after it was issued
(`calendarapp.models.token_expiry`); `logout` and the admin revoke it. Checking a token is
one SELECT, run on every request (its SQL compiled once: calendarapp/token_lookup.py); its
use is recorded (and its expiry pushed back) by an UPDATE only when the recorded use is
older than a day, so a token in daily use costs one write a day and the home screen's
statements are the same as ever. The price: the idle timeout counts from a use recorded up
to a day late, so an unused token expires between 29 and 30 days (at the defaults) after
its last use.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .models import AuthToken, hash_token, token_expiry
from .token_lookup import find_token

logger = logging.getLogger("calendar.tokens")

# A token's use is written again once the recorded one is older than this (or than a
# thirtieth of the idle timeout, if that is shorter, so a short timeout still works).
USE_RECORDED_EVERY = dt.timedelta(days=1)
# The sweep deletes this many ended tokens per statement, and at most SWEEP_MAX_BATCHES
# batches per run: one run never holds locks on a large part of the table for long.
SWEEP_BATCH = 1000
SWEEP_MAX_BATCHES = 100


class Refusal(enum.Enum):
    """Why a token sent with a request does not authenticate it; the value is the
    `error_description` of the response's WWW-Authenticate header."""

    MALFORMED = "The Authorization header is not a Bearer token."
    INVALID = "The access token is not valid."
    EXPIRED = "The access token expired."
    REVOKED = "The access token was revoked."


@dataclass(frozen=True)
class TokenCheck:
    """A token that authenticates (with its user loaded), or why it does not."""

    token: AuthToken | None = None
    refusal: Refusal | None = None


@sensitive_variables("raw_token")  # never in an error report's frames
def check(raw_token: str, now: dt.datetime | None = None) -> TokenCheck:
    """Look the token up with its user (one SELECT) and, if it authenticates, record its use."""
    now = now or timezone.now()
    found = find_token(hash_token(raw_token))
    refusal = refusal_of(found, now)
    if refusal is not None:
        return TokenCheck(refusal=refusal)
    assert found is not None  # refusal_of refuses a missing token
    record_use(found, now)
    return TokenCheck(token=found)


def refusal_of(token: AuthToken | None, now: dt.datetime) -> Refusal | None:
    """Why `token` (None: no such token) does not authenticate at `now`, or None if it does."""
    if token is None or not token.user.is_active:  # a deactivated user's tokens, as Django's own login
        return Refusal.INVALID
    if token.revoked_at is not None:
        return Refusal.REVOKED
    if token.expires_at <= now:
        return Refusal.EXPIRED
    return None


def record_use(token: AuthToken, now: dt.datetime) -> bool:
    """Record that `token` was used at `now` and push its expiry back, unless its recorded use
    is recent enough (the common case: no write). True if it wrote."""
    if now - token.last_used_at < use_recorded_every():
        return False
    expires_at = token_expiry(token.created_at, now)
    # Only this token, only if no other request recorded a use meanwhile, never once revoked.
    written = AuthToken.objects.filter(pk=token.pk, last_used_at=token.last_used_at, revoked_at__isnull=True).update(
        last_used_at=now, expires_at=expires_at
    )
    token.last_used_at, token.expires_at = now, expires_at
    return bool(written)


def use_recorded_every() -> dt.timedelta:
    return min(USE_RECORDED_EVERY, dt.timedelta(seconds=settings.AUTH_TOKEN_IDLE_TIMEOUT) / 30)


def sweep(now: dt.datetime | None = None) -> int:
    """Delete the tokens that expired or were revoked by `now`, SWEEP_BATCH at a time; how
    many it deleted. Run every AUTH_TOKEN_SWEEP_INTERVAL by the worker's beat."""
    now = now or timezone.now()
    deleted = 0
    for _ in range(SWEEP_MAX_BATCHES):
        batch = list(AuthToken.objects.ended(now).values_list("pk", flat=True)[:SWEEP_BATCH])
        if not batch:
            break
        # ended(now) again: a token whose use was recorded meanwhile is not deleted.
        deleted += AuthToken.objects.ended(now).filter(pk__in=batch).delete()[0]
        if len(batch) < SWEEP_BATCH:
            break
    if deleted:
        logger.info("Token sweep: deleted %s expired or revoked tokens", deleted)
    return deleted
