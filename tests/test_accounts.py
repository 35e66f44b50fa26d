"""Account rules (issue 11), found by an attack on a production-configured instance: usernames
in a safe alphabet and unique whatever their case or Unicode form (the database too, and its
migration), case-insensitive lookups, and the cooldown after a declined friend request."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.auth.models import AbstractUser
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F

from calendarapp.management.commands.seed_demo import POWER_USERNAME, friend_username, stranger_username
from calendarapp.models import FriendRequest, Friendship, User
from calendarapp.usernames import NEW_USERNAME_RULE, TAKEN, username_key, validate_new_username
from tests.test_mutations import SIGNUP_INPUT, database_state, fail, mutate, succeed

WEEK = 7 * 24 * 3600

# --- the alphabet of new usernames ----------------------------------------------------------------


@pytest.mark.parametrize(
    "username",
    [
        "ab",
        "a" * 31,
        "аlice",  # the first letter is Cyrillic
        "ａｌｉｃｅ",  # fullwidth
        "al\u200bice",  # a zero-width space
        "élise",
        "al ice",
        "alice!",
        "alice@example.com",
        ".alice",
        "-alice",
        "_alice",
        "alice\n",
    ],
    ids=[
        "too-short",
        "too-long",
        "cyrillic-a",
        "fullwidth",
        "zero-width-space",
        "accented",
        "space",
        "punctuation",
        "email",
        "leading-dot",
        "leading-dash",
        "leading-underscore",
        "trailing-newline",
    ],
)
def test_a_new_username_outside_the_safe_alphabet_is_bad_user_input(gql, world, username):
    world.user("alice")
    before = database_state()
    error = fail(mutate(gql, "signup", SIGNUP_INPUT | {"username": username}), "BAD_USER_INPUT", "username", "signup")
    assert error["message"] == NEW_USERNAME_RULE
    assert database_state() == before


@pytest.mark.parametrize("username", ["abc", "Zed.99", "a.b_c-d", "0day", "x" * 30])
def test_a_new_username_in_the_safe_alphabet_is_kept_as_typed(gql, username):
    viewer = succeed(gql, "signup", SIGNUP_INPUT | {"username": username})["viewer"]
    assert viewer["username"] == username
    assert User.objects.get().username == username


def test_the_seed_datas_usernames_are_valid_new_usernames():
    for username in (POWER_USERNAME, friend_username(1, 5), friend_username(1, 1_000_000), stranger_username(3)):
        validate_new_username(username)


# --- one name whatever its case or form -----------------------------------------------------------


@pytest.mark.parametrize("username", ["alice", "Alice", "ALICE"])
def test_a_username_taken_in_any_case_is_bad_user_input(gql, world, username):
    world.user("alice")
    before = database_state()
    error = fail(mutate(gql, "signup", SIGNUP_INPUT | {"username": username}), "BAD_USER_INPUT", "username", "signup")
    assert error["message"] == TAKEN
    assert database_state() == before


def test_an_older_username_counts_in_its_case_folded_form(gql, world):
    world.user("Straße")  # made before the alphabet: "strasse" once case-folded
    before = database_state()
    error = fail(mutate(gql, "signup", SIGNUP_INPUT | {"username": "STRASSE"}), "BAD_USER_INPUT", "username", "signup")
    assert error["message"] == TAKEN
    assert database_state() == before


def test_the_database_refuses_a_username_in_another_case(world):
    world.user("alice")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="ALICE", password="secret-pass-123")


def test_two_signups_racing_for_one_name_in_two_cases_give_the_second_bad_user_input(gql, world, monkeypatch):
    world.user("alice")
    # As if the other signup committed after this one's check: only the database stands in the way.
    monkeypatch.setattr(User, "clean", AbstractUser.clean)
    before = database_state()
    error = fail(mutate(gql, "signup", SIGNUP_INPUT | {"username": "Alice"}), "BAD_USER_INPUT", "username", "signup")
    assert error["message"] == TAKEN
    assert database_state() == before


def test_renaming_a_user_in_the_admins_form_to_another_users_name_in_another_case_is_refused(world):
    from django.contrib.auth.forms import UserChangeForm

    world.user("alice")
    bob = world.user("bob")

    class Form(UserChangeForm):
        class Meta(UserChangeForm.Meta):
            model = User
            fields = ("username", "display_name", "timezone")

    form = Form({"username": "ALICE", "display_name": "Bob", "timezone": "UTC"}, instance=bob)
    assert not form.is_valid()
    assert form.errors["username"] == [TAKEN]


def test_the_key_follows_a_rename_saved_with_update_fields(world):
    bob = world.user("bob")
    bob.username = "Robert"
    bob.save(update_fields=["username"])
    assert User.objects.get(pk=bob.pk).username_key == "robert"


# --- lookups by username in any case ----------------------------------------------------------------


LOGIN = {"password": "secret-pass-123"}


@pytest.mark.parametrize("typed", ["alice", "ALICE", "aLiCe"])
def test_login_finds_the_user_in_any_case(gql, world, typed):
    alice = world.user("alice")
    viewer = succeed(gql, "login", LOGIN | {"username": typed})["viewer"]
    assert viewer == {"id": world.id(alice), "username": "alice"}


@pytest.mark.parametrize("typed", ["José", "JOSÉ", "Jose\u0301"], ids=["as-stored", "upper", "decomposed"])
def test_an_older_username_outside_the_alphabet_keeps_working(gql, world, typed):
    jose = world.user("José")
    token = succeed(gql, "login", LOGIN | {"username": typed})["token"]
    assert gql("{ viewer { username } }", token=token).ok()["viewer"] == {"username": "José"}
    found = gql("query($u: String!) { user(username: $u) { id } }", {"u": typed}, token=token).ok()["user"]
    assert found == {"id": world.id(jose)}


def test_user_by_username_in_any_case(gql, world):
    bob = world.user("bob")
    token = world.token(world.user("alice"))
    answer = gql("query($u: String!) { user(username: $u) { id username } }", {"u": "BOB"}, token=token)
    assert answer.ok()["user"] == {"id": world.id(bob), "username": "bob"}


def test_send_friend_request_by_username_in_any_case(gql, world):
    alice, bob = world.user("alice"), world.user("bob")
    request = succeed(gql, "sendFriendRequest", {"username": "Bob"}, world.token(alice))["request"]
    assert request["to"] == {"username": "bob"}
    assert FriendRequest.objects.get().to_user == bob


def test_a_friend_request_to_oneself_in_another_case_is_bad_user_input(gql, world):
    alice = world.user("alice")
    fail(mutate(gql, "sendFriendRequest", {"username": "ALICE"}, world.token(alice)), "BAD_USER_INPUT", "username")


def test_users_made_in_bulk_get_their_key_so_seeded_users_log_in_in_any_case(gql):
    call_command("seed_demo", friends=2, events_per_day=1, days=1, attendees=0, stdout=io.StringIO())
    assert succeed(gql, "login", {"username": "POWER", "password": "demo"})["viewer"]["username"] == "power"
    assert not User.objects.filter(username_key="").exists()


# --- the cooldown after a declined friend request ----------------------------------------------------


@pytest.fixture
def bob(world):
    return world.user("bob")


def token_of(world, user: User) -> str:
    """One token per user and test, so that a request writes nothing but what it does."""
    if not hasattr(user, "test_token"):
        user.test_token = world.token(user)
    return user.test_token


def ask(gql, world, sender, recipient):
    """`sender` sends `recipient` a friend request; the raw answer."""
    return mutate(gql, "sendFriendRequest", {"username": recipient.username}, token_of(world, sender))


def answer_request(gql, world, sender, recipient, accept: bool) -> None:
    request = FriendRequest.objects.get(from_user=sender, to_user=recipient)
    input = {"requestId": world.id(request), "accept": accept}
    succeed(gql, "respondToFriendRequest", input, token_of(world, recipient))


def declined(gql, world, sender, recipient, ago: float = 0) -> None:
    """`sender` asked `recipient`, who declined `ago` seconds ago."""
    ask(gql, world, sender, recipient).ok()
    answer_request(gql, world, sender, recipient, accept=False)
    FriendRequest.objects.filter(from_user=sender, to_user=recipient).update(
        answered_at=F("answered_at") - dt.timedelta(seconds=ago)
    )


def test_answers_are_dated(gql, world, alice, bob):
    ask(gql, world, alice, bob).ok()
    assert FriendRequest.objects.get().answered_at is None
    answer_request(gql, world, alice, bob, accept=True)
    answered_at = FriendRequest.objects.get().answered_at
    assert answered_at is not None and abs((answered_at - FriendRequest.objects.get().created_at).total_seconds()) < 60


def test_asking_again_at_once_after_a_decline_is_rate_limited_for_the_cooldown(gql, world, alice, bob, settings):
    assert settings.FRIEND_REQUEST_COOLDOWN == WEEK  # the default
    declined(gql, world, alice, bob)
    before = database_state()

    error = fail(ask(gql, world, alice, bob), "RATE_LIMITED", name="sendFriendRequest")

    assert WEEK - 60 <= error["extensions"]["retryAfter"] <= WEEK
    assert error["message"] == "You cannot send bob a friend request again yet: try again in 7 days."
    assert database_state() == before
    assert FriendRequest.objects.get().status == "DECLINED"


def test_the_wait_counts_from_the_decline(gql, world, alice, bob, settings):
    settings.FRIEND_REQUEST_COOLDOWN = 3600
    declined(gql, world, alice, bob, ago=3600 - 90)
    error = fail(ask(gql, world, alice, bob), "RATE_LIMITED", name="sendFriendRequest")
    assert 80 <= error["extensions"]["retryAfter"] <= 90
    assert error["message"].endswith("try again in 2 minutes.")


def test_after_the_cooldown_the_request_is_pending_again_and_the_next_decline_waits_again(gql, world, alice, bob):
    declined(gql, world, alice, bob, ago=WEEK + 1)
    request = ask(gql, world, alice, bob).ok()["sendFriendRequest"]["request"]
    stored = FriendRequest.objects.get()
    assert request["id"] == world.id(stored) and stored.status == "PENDING" and stored.answered_at is None
    answer_request(gql, world, alice, bob, accept=False)
    fail(ask(gql, world, alice, bob), "RATE_LIMITED", name="sendFriendRequest")


def test_a_decline_dated_before_answers_were_counts_from_when_it_was_sent(gql, world, alice, bob):
    ask(gql, world, alice, bob).ok()
    FriendRequest.objects.update(status="DECLINED", created_at=F("created_at") - dt.timedelta(days=2))
    error = fail(ask(gql, world, alice, bob), "RATE_LIMITED", name="sendFriendRequest")
    assert WEEK - 2 * 86400 - 60 <= error["extensions"]["retryAfter"] <= WEEK - 2 * 86400
    FriendRequest.objects.update(created_at=F("created_at") - dt.timedelta(days=5, seconds=1))
    ask(gql, world, alice, bob).ok()


def test_the_one_who_declined_may_ask_at_once(gql, world, alice, bob):
    declined(gql, world, alice, bob)
    ask(gql, world, bob, alice).ok()


def test_a_cooldown_of_zero_allows_asking_again_at_once(gql, world, alice, bob, settings):
    settings.FRIEND_REQUEST_COOLDOWN = 0
    declined(gql, world, alice, bob)
    ask(gql, world, alice, bob).ok()


def test_friends_who_unfriended_may_ask_again_at_once(gql, world, alice, bob):
    ask(gql, world, alice, bob).ok()
    answer_request(gql, world, alice, bob, accept=True)
    succeed(gql, "removeFriend", {"userId": world.id(bob)}, token_of(world, alice))
    ask(gql, world, alice, bob).ok()
    assert FriendRequest.objects.get(from_user=alice).status == "PENDING"


def test_a_decline_followed_by_a_friendship_the_other_way_no_longer_counts(gql, world, alice, bob):
    declined(gql, world, alice, bob)
    ask(gql, world, bob, alice).ok()
    answer_request(gql, world, bob, alice, accept=True)
    succeed(gql, "removeFriend", {"userId": world.id(bob)}, token_of(world, alice))
    ask(gql, world, alice, bob).ok()
    assert not Friendship.objects.exists()


def test_asking_again_while_pending_is_still_idempotent(gql, world, alice, bob):
    first = ask(gql, world, alice, bob).ok()["sendFriendRequest"]["request"]
    assert ask(gql, world, alice, bob).ok()["sendFriendRequest"]["request"]["id"] == first["id"]


# --- the migration ------------------------------------------------------------------------------------


BEFORE = ("calendarapp", "0004_auth_token_lifetime")
AFTER = ("calendarapp", "0005_account_rules")


def migrate_to(target: tuple[str, str]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return MigrationExecutor(connection)


@pytest.fixture
def before_account_rules(transactional_db):
    """The database as it was before 0005 (its historical models), migrated forward after the test."""
    executor = migrate_to(BEFORE)
    yield executor.loader.project_state([BEFORE]).apps
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_migration_keys_existing_users_whatever_their_alphabet(before_account_rules):
    old_user = before_account_rules.get_model("calendarapp", "User")
    for name in ("power", "José", "Straße", "ａｂｃ", "x" * 150):
        old_user.objects.create(username=name, password="!")
    # Rows that refer to users, as a live database has (PostgreSQL checks its foreign keys at commit).
    power = old_user.objects.get(username="power")
    when = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    before_account_rules.get_model("calendarapp", "Event").objects.create(
        owner=power, title="Standup", starts_at=when, ends_at=when
    )
    before_account_rules.get_model("calendarapp", "FriendRequest").objects.create(
        from_user=power, to_user=old_user.objects.get(username="José"), status="DECLINED"
    )
    migrate_to(AFTER)
    assert dict(User.objects.values_list("username", "username_key")) == {
        "power": "power",
        "José": "josé",
        "Straße": "strasse",
        "ａｂｃ": "abc",
        "x" * 150: "x" * 150,
    }
    assert username_key("José") == username_key("JOSE\u0301")
    assert FriendRequest.objects.get().answered_at is None


def test_the_migration_stops_on_names_equal_but_for_case_and_changes_nothing(before_account_rules):
    old_user = before_account_rules.get_model("calendarapp", "User")
    for name in ("alice", "bob", "Alice", "ALICE", "carol", "Straße", "STRASSE"):
        old_user.objects.create(username=name, password="!")
    with pytest.raises(Exception, match="2 group") as stopped:
        migrate_to(AFTER)
    message = str(stopped.value)
    assert "'alice' (id " in message and "'Alice' (id " in message and "'ALICE' (id " in message
    assert "'Straße' (id " in message and "'STRASSE' (id " in message and "'bob'" not in message
    assert "Rename all but one user of each group" in message
    applied = MigrationExecutor(connection).loader.applied_migrations
    assert AFTER not in applied and BEFORE in applied
    with connection.cursor() as cursor:
        columns = [column.name for column in connection.introspection.get_table_description(cursor, "calendarapp_user")]
    assert "username_key" not in columns

    old_user.objects.filter(username__in=["Alice", "ALICE", "STRASSE"]).delete()
    migrate_to(AFTER)
    assert User.objects.named("ALICE").get().username == "alice"
