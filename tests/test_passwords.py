"""Password hashing with the production hasher list (config/settings/base.py), which the rest
of the suite swaps for MD5: Argon2id (calendarapp.hashers) for new hashes, and older hashes
rehashed with it at their user's next successful login, through the `login` mutation."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, identify_hasher, make_password
from django.test import override_settings

from calendarapp.hashers import Argon2idPasswordHasher
from calendarapp.models import AuthToken, User
from config.settings.base import PASSWORD_HASHERS
from tests.test_mutations import SIGNUP_INPUT, VIEWER_QUERY, database_state, fail, mutate, succeed

PASSWORD = "secret-pass-123"
# The parameters part of an encoded Argon2 hash, as calendarapp.hashers sets them.
OUR_PARAMETERS = "$m=19456,t=2,p=1$"


@pytest.fixture(autouse=True)
def production_hashers():
    with override_settings(PASSWORD_HASHERS=PASSWORD_HASHERS):
        yield


def user_with_hash(encoded: str, username: str = "alice") -> User:
    return User.objects.create(username=username, display_name=username.title(), timezone="UTC", password=encoded)


def stored_hash(user: User) -> str:
    return User.objects.values_list("password", flat=True).get(pk=user.pk)


def assert_ours(encoded: str) -> None:
    """`encoded` is an Argon2id hash with our parameters, which Django will not rehash."""
    hasher = identify_hasher(encoded)
    assert isinstance(hasher, Argon2idPasswordHasher), encoded
    assert encoded.startswith("argon2$argon2id$") and OUR_PARAMETERS in encoded, encoded
    assert not hasher.must_update(encoded)


def log_in(gql, password: str = PASSWORD) -> str:
    payload = succeed(gql, "login", {"username": "alice", "password": password})
    assert gql(VIEWER_QUERY, token=payload["token"]).ok()["viewer"]["username"] == "alice"
    return payload["token"]


def test_the_production_list_starts_with_argon2id_and_keeps_pbkdf2():
    assert PASSWORD_HASHERS[0] == "calendarapp.hashers.Argon2idPasswordHasher"
    assert "django.contrib.auth.hashers.PBKDF2PasswordHasher" in PASSWORD_HASHERS
    assert_ours(make_password(PASSWORD))


def test_a_pbkdf2_hash_is_rehashed_with_argon2id_at_login_and_the_user_logs_in_again(gql, db):
    alice = user_with_hash(make_password(PASSWORD, hasher="pbkdf2_sha256"))

    log_in(gql)

    upgraded = stored_hash(alice)
    assert_ours(upgraded)
    log_in(gql)
    assert stored_hash(alice) == upgraded  # already ours: not rehashed again
    assert AuthToken.objects.filter(user=alice).count() == 2


def test_an_argon2_hash_with_djangos_default_parameters_is_rehashed_with_ours(gql, db):
    old = make_password(PASSWORD, hasher=Argon2PasswordHasher())
    assert "$m=102400,t=2,p=8$" in old
    alice = user_with_hash(old)

    log_in(gql)

    assert_ours(stored_hash(alice))
    log_in(gql)


def test_a_wrong_password_changes_nothing(gql, db):
    old = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user_with_hash(old)
    before = database_state()

    fail(mutate(gql, "login", {"username": "alice", "password": "wrong-password"}), "UNAUTHENTICATED", name="login")

    assert database_state() == before
    assert before["User"][0]["password"] == old


def test_signup_stores_an_argon2id_hash_with_our_parameters(gql, db):
    token = succeed(gql, "signup", SIGNUP_INPUT)["token"]

    newbie = User.objects.get(username=SIGNUP_INPUT["username"])
    assert_ours(newbie.password)
    assert newbie.check_password(SIGNUP_INPUT["password"])
    assert gql(VIEWER_QUERY, token=token).ok()["viewer"]["username"] == SIGNUP_INPUT["username"]
