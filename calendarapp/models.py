"""The calendar's data: users, friendships, friend requests, events and RSVPs.

Who may see what is not decided here but in `calendarapp.rules`, the querysets
every read path goes through.
"""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.core.validators import MaxLengthValidator
from django.db import models

from .rules import EventQuerySet, ExportJobQuerySet, FriendRequestQuerySet, seen_by_friends
from .timezones import validate_timezone

# Event.hidden_seq of an event its owner's friends see now: after every change number.
STILL_SHOWN = 2**63 - 1


class User(AbstractUser):
    display_name = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    avatar_url = models.URLField(max_length=500, blank=True, null=True)

    objects = UserManager()

    class Meta:
        indexes = [models.Index(fields=["display_name", "id"], name="user_display_name_id")]

    def __str__(self) -> str:
        return self.username


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


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthToken(models.Model):
    """A Bearer token. Only its SHA-256 is stored: a leaked table grants nothing."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    @classmethod
    def issue(cls, user: User) -> str:
        """Create a token for `user` and return it; it cannot be read back later."""
        token = secrets.token_urlsafe(32)
        cls.objects.create(user=user, key_hash=hash_token(token))
        return token


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
