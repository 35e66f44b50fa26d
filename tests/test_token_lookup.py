"""The compiled token lookup (calendarapp/token_lookup.py) against the queryset it replaces: for
every state a token can be in, `find_token` gives the same token and user as evaluating
`token_queryset` with the ORM (same row, same fields loaded and deferred, same refusal), in
one statement that the connection's execute_wrappers see; and its SQL, compiled once, is never
used for another database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, connections
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendarapp import token_lookup, tokens
from calendarapp.models import AuthToken, User, hash_token

DAY = dt.timedelta(days=1)
OTHER = "token_lookup_other"


def loaded(instance: Model | None) -> Any:
    """What a model instance holds: its class, database, loaded fields (with their values and
    types: SQLite's raw values are strings and integers) and deferred ones."""
    if instance is None:
        return None
    values = {
        field.attname: (instance.__dict__[field.attname], type(instance.__dict__[field.attname]))
        for field in instance._meta.concrete_fields
        if field.attname in instance.__dict__
    }
    return type(instance), instance._state.db, instance._state.adding, values, instance.get_deferred_fields()


def loaded_with_user(token: AuthToken | None) -> Any:
    """The token's state and that of the user in its related-object cache (None if the user is
    not cached: reading it would cost a query)."""
    if token is None:
        return None
    return loaded(token), loaded(token._state.fields_cache.get("user"))


def by_the_orm(key_hash: str, using: str = "default") -> AuthToken | None:
    return next(iter(token_lookup.token_queryset(key_hash).using(using)), None)


def assert_same_lookup(key_hash: str, using: str = "default") -> AuthToken | None:
    """The compiled lookup equals the ORM's (one statement each); its result."""
    with CaptureQueriesContext(connections[using]) as statements:
        found = token_lookup.find_token(key_hash, connections[using])
    assert len(statements) == 1
    expected = by_the_orm(key_hash, using)
    assert loaded_with_user(found) == loaded_with_user(expected)
    now = timezone.now()
    assert tokens.refusal_of(found, now) == tokens.refusal_of(expected, now)
    return found


def issue(user: User, **fields: Any) -> str:
    raw, row = AuthToken.create_for(user)
    AuthToken.objects.filter(pk=row.pk).update(**fields)
    return hash_token(raw)


@pytest.fixture
def states(world, alice) -> dict[str, tuple[str, tokens.Refusal | None]]:
    """A key hash for each state a token can be in, with the refusal it gets."""
    now = timezone.now()
    bob = world.user("bob")
    User.objects.filter(pk=bob.pk).update(is_active=False)
    return {
        "valid": (issue(alice), None),
        "revoked": (issue(alice, revoked_at=now, expires_at=now), tokens.Refusal.REVOKED),
        # past its maximum age, though used recently
        "expired": (
            issue(alice, created_at=now - 400 * DAY, last_used_at=now - DAY, expires_at=now - 35 * DAY),
            tokens.Refusal.EXPIRED,
        ),
        "idle-expired": (issue(alice, last_used_at=now - 31 * DAY, expires_at=now - DAY), tokens.Refusal.EXPIRED),
        "inactive user": (issue(bob), tokens.Refusal.INVALID),
        "unknown key": (hash_token("no such token"), tokens.Refusal.INVALID),
    }


@pytest.mark.parametrize("state", ["valid", "revoked", "expired", "idle-expired", "inactive user", "unknown key"])
def test_the_compiled_lookup_finds_what_the_queryset_finds(states, state):
    key_hash, refusal = states[state]
    found = assert_same_lookup(key_hash)
    assert tokens.refusal_of(found, timezone.now()) == refusal
    if found is not None:
        assert found.get_deferred_fields() == {"key_hash", "user_agent"}
        assert found.user.get_deferred_fields() == set()  # only("user") loads the whole user


def test_a_deferred_field_loads_as_the_querysets_does(states):
    key_hash, _ = states["valid"]
    found, expected = token_lookup.find_token(key_hash), by_the_orm(key_hash)
    assert found is not None and expected is not None
    with CaptureQueriesContext(connection) as statements:
        assert found.user.display_name == expected.user.display_name == "Alice"  # loaded
        assert found.user_agent == expected.user_agent == ""  # deferred: a query for each
        assert found.key_hash == expected.key_hash == key_hash
    assert len(statements) == 4
    assert loaded_with_user(found) == loaded_with_user(expected)


def test_the_lookup_runs_on_the_connections_cursor_with_its_execute_wrappers(states):
    key_hash, _ = states["valid"]
    seen: list[str] = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert token_lookup.find_token(key_hash) is not None
    assert seen == [token_lookup.compiled_lookup(connection).sql]
    assert key_hash not in seen[0]  # a parameter, never spliced into the SQL


@pytest.fixture
def other_database(db) -> Iterator[str]:
    """A second database under another alias, an in-memory SQLite one (so another vendor too
    when the suite runs on PostgreSQL), with the users' and tokens' tables."""
    other = SQLiteWrapper(
        {
            **connections["default"].settings_dict,
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": ":memory:",
            "OPTIONS": {},
        },
        alias=OTHER,
    )
    connections[OTHER] = other
    try:
        with other.schema_editor() as editor:
            editor.create_model(User)
            editor.create_model(AuthToken)
        yield OTHER
    finally:
        token_lookup._compiled.pop((OTHER, other.vendor), None)
        other.close()
        del connections[OTHER]


def test_each_database_gets_its_own_compiled_statement(states, other_database):
    key_hash, _ = states["valid"]
    assert_same_lookup(key_hash)  # compiled for the default database first
    carol = User.objects.db_manager(other_database).create_user(username="carol", password="x", display_name="Carol")
    AuthToken.objects.using(other_database).create(user=carol, key_hash=hash_token("carol's token"))
    found = assert_same_lookup(hash_token("carol's token"), other_database)
    assert found is not None and found._state.db == found.user._state.db == other_database
    assert found.user.username == "carol"
    assert token_lookup.compiled_lookup(connections[other_database]) is not token_lookup.compiled_lookup(connection)
