"""Where rate-limit counts live, and the two kinds of count the limits need.

- A **sliding window of events** (failed logins, signups): how many happened in the last
  `window` seconds, and when the count will drop below a limit.
- A **token bucket** (a viewer's cost budget): `capacity` tokens refilled evenly over
  `period` seconds; a take that would overdraw it is refused, with the wait until it would not.

`RedisCounters` keeps them in Redis, each operation one atomic Lua script timed by Redis's own
clock (so every worker and dyno agrees); `LocalCounters` keeps them in this process.
`counters()` is the one the limits use: Redis when RATE_LIMIT_REDIS_URL is set, falling back
to this process for RATE_LIMIT_REDIS_RETRY seconds whenever Redis fails (logged when it
happens and when Redis is back), so a Redis outage never lifts a limit nor fails a request.
Keys hold a digest, never a raw username or address.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from django.conf import settings
from django.core.signals import setting_changed

logger = logging.getLogger("calendar.throttling")

KEY_PREFIX = "throttle:v1:"


def counter_key(kind: str, value: str) -> str:
    """The key of `kind`'s count for `value` (a username, an address, a viewer)."""
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{KEY_PREFIX}{kind}:{digest}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether an attempt may go ahead; if not, the seconds until it may."""

    allowed: bool
    retry_after: float = 0.0


ALLOWED = Verdict(True)


class Counters(Protocol):
    def window_verdict(self, key: str, limit: int, window: float) -> Verdict:
        """Refused while `limit` or more events were recorded under `key` in the last `window` seconds."""

    def record_event(self, key: str, limit: int, window: float) -> None:
        """Record one event under `key` (only the newest `limit` are kept: enough for the verdict)."""

    def forget(self, key: str) -> None:
        """Drop every event recorded under `key`."""

    def take(self, key: str, amount: float, capacity: float, period: float) -> Verdict:
        """Take `amount` tokens from the bucket under `key` (full at first, `capacity`
        refilled every `period` seconds), or refuse without taking any."""


# ------------------------------------------------------------------ Redis

# Each script reads the time from Redis (milliseconds), so that every dyno counts alike.
_NOW_MS = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)"

_WINDOW_VERDICT = f"""{_NOW_MS}
local window, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then return -1 end
local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return tonumber(oldest[2]) + window - now"""

_RECORD_EVENT = f"""{_NOW_MS}
local window, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(limit + 1))
redis.call('PEXPIRE', KEYS[1], window)
return 0"""

_TAKE = f"""{_NOW_MS}
local amount, capacity, period = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local rate = capacity / period
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = capacity, now end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
if tokens < amount then return math.ceil((amount - tokens) / rate) end
tokens = tokens - amount
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1000)
return -1"""


class RedisCounters:
    """The counts in Redis, shared by every process. Raises redis.RedisError when Redis fails."""

    def __init__(self, url: str) -> None:
        timeout = settings.RATE_LIMIT_REDIS_TIMEOUT
        self.client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        self._window_verdict = self.client.register_script(_WINDOW_VERDICT)
        self._record_event = self.client.register_script(_RECORD_EVENT)
        self._take = self.client.register_script(_TAKE)

    def window_verdict(self, key: str, limit: int, window: float) -> Verdict:
        wait_ms = self._window_verdict(keys=[key], args=[_ms(window), limit])
        return ALLOWED if wait_ms < 0 else Verdict(False, max(wait_ms, 1) / 1000)

    def record_event(self, key: str, limit: int, window: float) -> None:
        self._record_event(keys=[key], args=[_ms(window), limit, uuid.uuid4().hex])

    def forget(self, key: str) -> None:
        self.client.delete(key)

    def take(self, key: str, amount: float, capacity: float, period: float) -> Verdict:
        wait_ms = self._take(keys=[key], args=[amount, capacity, _ms(period)])
        return ALLOWED if wait_ms < 0 else Verdict(False, max(wait_ms, 1) / 1000)


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


# ------------------------------------------------------------------ this process


class LocalCounters:
    """The counts in this process (one worker's view: with several workers each counts its
    own). At most `max_keys` keys are kept, the least recently used dropped first."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def window_verdict(self, key: str, limit: int, window: float) -> Verdict:
        now = time.monotonic()
        with self._lock:
            events = self._events(key, window, now)
            if len(events) < limit:
                return ALLOWED
            return Verdict(False, events[len(events) - limit] + window - now)

    def record_event(self, key: str, limit: int, window: float) -> None:
        now = time.monotonic()
        with self._lock:
            events = self._events(key, window, now)
            events.append(now)
            while len(events) > limit:
                events.popleft()
            self._keep(key, events)

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def take(self, key: str, amount: float, capacity: float, period: float) -> Verdict:
        now, rate = time.monotonic(), capacity / period
        with self._lock:
            tokens, at = self._entries.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - at) * rate)
            if tokens < amount:
                return Verdict(False, (amount - tokens) / rate)
            self._keep(key, (tokens - amount, now))
            return ALLOWED

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _events(self, key: str, window: float, now: float) -> deque[float]:
        events = self._entries.get(key)
        if events is None:
            return deque()
        while events and events[0] <= now - window:
            events.popleft()
        return events

    def _keep(self, key: str, value: Any) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)


# ------------------------------------------------------------------ Redis, else this process


class FailoverCounters:
    """Redis's counts while Redis answers; this process's for a while after it fails."""

    def __init__(self, primary: RedisCounters, fallback: LocalCounters, retry_after: float) -> None:
        self.primary = primary
        self.fallback = fallback
        self.retry_after = retry_after
        self._local_until = 0.0
        self._on_fallback = False

    def window_verdict(self, key: str, limit: int, window: float) -> Verdict:
        return self._call("window_verdict", key, limit, window)

    def record_event(self, key: str, limit: int, window: float) -> None:
        self._call("record_event", key, limit, window)

    def forget(self, key: str) -> None:
        self._call("forget", key)

    def take(self, key: str, amount: float, capacity: float, period: float) -> Verdict:
        return self._call("take", key, amount, capacity, period)

    def _call(self, method: str, *args: Any) -> Any:
        if time.monotonic() < self._local_until:
            return getattr(self.fallback, method)(*args)
        try:
            result = getattr(self.primary, method)(*args)
        except redis.RedisError as error:
            self._local_until = time.monotonic() + self.retry_after
            if not self._on_fallback:
                self._on_fallback = True
                logger.warning(
                    "Rate limits: Redis is unavailable (%s: %s); counting in this process until it is back",
                    type(error).__name__,
                    error,
                )
            return getattr(self.fallback, method)(*args)
        if self._on_fallback:
            self._on_fallback = False
            logger.warning("Rate limits: Redis is back; counting in Redis again")
        return result


_counters: Counters | None = None
_local = LocalCounters()
_counters_lock = threading.Lock()


def counters() -> Counters:
    """The counters the limits use (made at first use, in the process that uses them)."""
    global _counters
    if _counters is None:
        with _counters_lock:
            if _counters is None:
                url = settings.RATE_LIMIT_REDIS_URL
                _counters = (
                    FailoverCounters(RedisCounters(url), _local, settings.RATE_LIMIT_REDIS_RETRY) if url else _local
                )
    return _counters


def reset() -> None:
    """Forget every count of this process and the counters in use (tests; settings changes)."""
    global _counters
    with _counters_lock:
        _counters = None
        _local.clear()


def _reset_when_settings_change(setting: str, **_: Any) -> None:
    if setting.startswith("RATE_LIMIT"):
        reset()


setting_changed.connect(_reset_when_settings_change)
