"""The calendar's data: users, friendships, friend requests, events and RSVPs.

Who may see what is not decided here but in `calendarapp.rules`, the querysets
every read path goes through.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .rules import EventQuerySet, ExportJobQuerySet, FriendRequestQuerySet, seen_by_friends
from .timezones import validate_timezone
from .usernames import TAKEN, username_key


class CalendarUserManager(UserManager["User"]):
    def named(self, username: str) -> models.QuerySet:
        """The user called `username` in any case or Unicode form (calendarapp.usernames)."""
        return self.filter(username_key=username_key(username))

    def get_by_natural_key(self, username: str) -> User:  # type: ignore[override]  # never None: ModelBackend checks
        """Login (Django's ModelBackend), the admin's login and createsuperuser find users
        through here: case-insensitive, as every lookup by username."""
        return self.named(username).get()

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for user in objs:
            user.username_key = username_key(user.username)
        return super().bulk_create(objs, *args, **kwargs)


# Event.hidden_seq of an event its owner's friends see now: after every change number.
STILL_SHOWN = 2**63 - 1


class User(AbstractUser):
    display_name = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    avatar_url = models.URLField(max_length=500, blank=True, null=True)
    # The username as usernames are compared (calendarapp.usernames.username_key), unique, so
    # no two users' names differ only by case or Unicode form, even when two signups race.
    # save() and bulk_create() set it; a queryset's update(username=...) would not.
    username_key = models.TextField(editable=False)

    objects: ClassVar[CalendarUserManager] = CalendarUserManager()

    class Meta:
        indexes = [models.Index(fields=["display_name", "id"], name="user_display_name_id")]
        constraints = [models.UniqueConstraint(fields=["username_key"], name="user_username_key_unique")]

    def __str__(self) -> str:
        return self.username

    def clean(self) -> None:
        """Django's own (the username NFKC-normalized), then: no other user has this name in
        another case or form. Checked by signup and by the admin's forms."""
        super().clean()
        self.username_key = username_key(self.username)
        others = User.objects.filter(username_key=self.username_key)
        if self.pk is not None:
            others = others.exclude(pk=self.pk)
        if others.exists():
            raise ValidationError({"username": TAKEN})

    def save(self, *args, **kwargs) -> None:
        self.username_key = username_key(self.username)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "username" in update_fields:
            kwargs["update_fields"] = {*update_fields, "username_key"}
        super().save(*args, **kwargs)


class Friendship(models.Model):
    """One direction of a mutual friendship: every friendship is stored as two rows
    (a→b and b→a), so "the friends of X" is a single indexed range scan."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="friendships")
    friend = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # When the friendship began, on the change sequence (calendarapp.changes): from then
    # on the friend's events are in the user's sync scope.
    change_seq = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "friend"], name="friendship_unique_pair"),
            models.CheckConstraint(condition=~models.Q(user=models.F("friend")), name="friendship_not_self"),
        ]


class FriendRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING"
        ACCEPTED = "ACCEPTED"
        DECLINED = "DECLINED"

    from_user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sent_friend_requests")
    to_user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="received_friend_requests")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the recipient accepted or declined it: a declined request may be sent again only
    # FRIEND_REQUEST_COOLDOWN seconds later (services.send_friend_request).
    answered_at = models.DateTimeField(null=True, blank=True)

    objects = FriendRequestQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["from_user", "to_user"], name="friend_request_unique_pair"),
            models.CheckConstraint(condition=~models.Q(from_user=models.F("to_user")), name="friend_request_not_self"),
        ]
        indexes = [models.Index(fields=["to_user", "status", "created_at", "id"], name="friend_request_inbox")]


class Visibility(models.TextChoices):
    PUBLIC = "PUBLIC"
    FRIENDS = "FRIENDS"
    PRIVATE = "PRIVATE"


class Event(models.Model):
    TITLE_MAX_LENGTH = 200

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="events")
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    description = models.TextField(blank=True, default="", validators=[MaxLengthValidator(10_000)])
    location = models.CharField(max_length=300, blank=True, default="")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    all_day = models.BooleanField(default=False)
    visibility = models.CharField(max_length=7, choices=Visibility.choices, default=Visibility.FRIENDS)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The change sequence number of the event's last change (calendarapp.changes): what
    # delta sync compares with a client's cursor.
    change_seq = models.BigIntegerField(default=0)
    # The last period during which the owner's friends could see the event (it was PUBLIC
    # or FRIENDS), on the change sequence: from shown_seq until hidden_seq, STILL_SHOWN
    # while they see it, both 0 if they never have; earlier periods are ShownPeriod rows.
    # Delta sync tells a viewer to drop only an event that was in their scope at some time,
    # so it never hands out the id of one its owner hid from them whenever they were friends.
    shown_seq = models.BigIntegerField(default=0)
    hidden_seq = models.BigIntegerField(default=0)

    objects = EventQuerySet.as_manager()

    def clean(self) -> None:
        """Rules across fields, checked by the API's services and by the admin's form alike."""
        if self.starts_at and self.ends_at and self.ends_at < self.starts_at:
            raise ValidationError({"ends_at": "endsAt must not be before startsAt."})

    def number_change(self, seq: int) -> ShownPeriod | None:
        """Number a change of the event, before it is saved: its change_seq, and its shown
        period if friends begin or stop seeing it. When friends see it again, returns the
        period that ended before, for the caller to save."""
        self.change_seq = seq
        shown, was_shown = seen_by_friends(self.visibility), self.hidden_seq == STILL_SHOWN
        earlier = None
        if shown and not was_shown:
            if self.hidden_seq:  # friends saw it before: keep when
                earlier = ShownPeriod(
                    event_id=self.pk, owner_id=self.owner_id, shown_seq=self.shown_seq, hidden_seq=self.hidden_seq
                )
            self.shown_seq, self.hidden_seq = seq, STILL_SHOWN
        elif was_shown and not shown:
            self.hidden_seq = seq
        return earlier

    class Meta:
        indexes = [
            # Day overlap per owner: owner_id = ? AND starts_at < day_end AND ends_at > day_start.
            models.Index(fields=["owner", "starts_at", "ends_at"], name="event_owner_starts_ends"),
            # Delta sync per owner: owner_id = ? AND change_seq > cursor.
            models.Index(fields=["owner", "change_seq"], name="event_owner_change_seq"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gte=models.F("starts_at")), name="event_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Rsvp(models.Model):
    class Status(models.TextChoices):
        GOING = "GOING"
        MAYBE = "MAYBE"
        DECLINED = "DECLINED"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="rsvps")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="rsvps")
    status = models.CharField(max_length=8, choices=Status.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "user"], name="rsvp_unique_event_user")]
        indexes = [models.Index(fields=["event", "status"], name="rsvp_event_status")]


@sensitive_variables("token")  # never in an error report's frames
def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_expiry(issued_at: dt.datetime, used_at: dt.datetime) -> dt.datetime:
    """When a token issued at `issued_at` and last used at `used_at` expires: AUTH_TOKEN_IDLE_TIMEOUT
    after that use, and never later than AUTH_TOKEN_MAX_AGE after it was issued."""
    idle = dt.timedelta(seconds=settings.AUTH_TOKEN_IDLE_TIMEOUT)
    max_age = dt.timedelta(seconds=settings.AUTH_TOKEN_MAX_AGE)
    return min(used_at + idle, issued_at + max_age)


def new_token_expiry() -> dt.datetime:
    """The expiry of a token issued now (the default of rows made without `AuthToken.issue`)."""
    now = timezone.now()
    return token_expiry(now, now)


class AuthTokenQuerySet(models.QuerySet):
    def live(self, now: dt.datetime) -> AuthTokenQuerySet:
        """The tokens that still authenticate at `now` (their user aside): not revoked, not expired."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)

    def ended(self, now: dt.datetime) -> AuthTokenQuerySet:
        """The tokens expired or revoked by `now`: a revoked token expires when it is revoked."""
        return self.filter(expires_at__lte=now)

    def revoke(self, now: dt.datetime | None = None) -> int:
        """Revoke the live tokens among these, in one UPDATE; how many it revoked. Each also
        expires then, so the sweep finds every ended token by `expires_at` alone."""
        now = now or timezone.now()
        return self.live(now).update(revoked_at=now, expires_at=now)


class AuthToken(models.Model):
    """A Bearer token (one per login: a device). Only its SHA-256 is stored: a leaked table
    grants nothing. It ends AUTH_TOKEN_IDLE_TIMEOUT after its last recorded use, at most
    AUTH_TOKEN_MAX_AGE after it was issued, or when revoked (`logout`, the admin); the sweep
    then deletes it (calendarapp/tokens.py)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Recorded at most once a day (calendarapp.tokens.record_use), so that using a token
    # costs no write on almost every request.
    last_used_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(default=new_token_expiry, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The User-Agent of the login or signup that issued it: which device it is, for the admin.
    user_agent = models.CharField(max_length=200, blank=True, editable=False)

    objects = AuthTokenQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="auth_token_expires")]

    def __str__(self) -> str:
        return f"Token {self.pk} of {self.user_id}, issued {self.created_at:%Y-%m-%d %H:%M}"

    @classmethod
    def issue(cls, user: User, user_agent: str = "") -> str:
        """Create a token for `user` and return it; it cannot be read back later."""
        return cls.create_for(user, user_agent)[0]

    @classmethod
    @sensitive_variables("token")
    def create_for(cls, user: User, user_agent: str = "") -> tuple[str, AuthToken]:
        """A new token for `user` and its row (whose `expires_at` the client is told)."""
        token = secrets.token_urlsafe(32)
        now = timezone.now()
        row = cls.objects.create(
            user=user,
            key_hash=hash_token(token),
            created_at=now,
            last_used_at=now,
            expires_at=token_expiry(now, now),
            user_agent=printable(user_agent)[:200],
        )
        return token, row


def printable(text: str) -> str:
    """`text` without control characters (PostgreSQL refuses NUL; the admin shows the rest)."""
    return "".join(character for character in text if character.isprintable())


class ChangeCounter(models.Model):
    """The change sequence: one row whose value every writing transaction increments
    (calendarapp.changes.next_change_seq). The increment holds the row's lock until
    commit, so sequence numbers become visible in the order they were handed out."""

    value = models.BigIntegerField(default=0)


class EndedFriendship(models.Model):
    """One direction of a friendship that ended, kept so that delta sync can tell the
    user to drop the former friend's events. Stored both ways, like Friendship."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="ended_friendships")
    former_friend = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    change_seq = models.BigIntegerField()
    # When the friendship that ended had begun (its Friendship.change_seq).
    began_seq = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["user", "change_seq"], name="ended_friendship_user_seq")]


class DeletedEvent(models.Model):
    """A tombstone: the id of a deleted event, its owner and when it went, for delta sync."""

    event_id = models.BigIntegerField()
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    change_seq = models.BigIntegerField()
    # The event's last shown period (Event.shown_seq), ended by the deletion if friends
    # saw it then; its earlier ones stay ShownPeriod rows.
    shown_seq = models.BigIntegerField(default=0)
    hidden_seq = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["owner", "change_seq"], name="deleted_event_owner_seq")]


class ShownPeriod(models.Model):
    """A period, before the last one, during which the owner's friends could see an event
    (Event.shown_seq has the last): delta sync asks whether a viewer could see an event
    while a friendship that has ended lasted. Kept when the event is deleted, as its
    tombstone may need it."""

    event_id = models.BigIntegerField()
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    shown_seq = models.BigIntegerField()
    hidden_seq = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["event_id"], name="shown_period_event")]


def export_storage():
    """Where export files go: the "exports" storage of settings.STORAGES."""
    return storages["exports"]


class ExportJob(models.Model):
    """A CSV export of the owner's events on the days date_from to date_to (inclusive),
    made in the background by calendarapp.tasks.export_events."""

    class Status(models.TextChoices):
        PENDING = "PENDING"
        RUNNING = "RUNNING"
        DONE = "DONE"
        FAILED = "FAILED"

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="export_jobs")
    date_from = models.DateField()
    date_to = models.DateField()
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.PENDING)
    row_count = models.IntegerField(null=True, blank=True)
    file = models.FileField(storage=export_storage, upload_to="exports/", blank=True)
    error = models.TextField(blank=True, default="")
    # The id of the task last sent for this job: only that task may run it, so an older copy
    # (re-sent by calendarapp.exports.sweep after Redis lost track of it) does nothing.
    task_id = models.CharField(max_length=36, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ExportJobQuerySet.as_manager()

    class Meta:
        # The sweep looks for unfinished jobs untouched for a while, among all finished ones.
        indexes = [models.Index(fields=["status", "updated_at"], name="export_job_status_updated")]
