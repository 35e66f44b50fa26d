"""What the mutations do, as plain functions on models.

They validate with the models' own rules (`full_clean`) and raise Django's
ValidationError (bad input, keyed by field), PermissionDenied (not yours),
ObjectDoesNotExist (not visible, so not there) or TooSoon (allowed again later); the
GraphQL layer maps those to error codes and runs each call in one transaction.

Every function that changes what a delta-sync client may hold stamps its writes with one
number of the change sequence (calendarapp.changes), taken after its row locks.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .changes import next_change_seq
from .models import DeletedEvent, EndedFriendship, Event, FriendRequest, Friendship, Rsvp, User
from .usernames import TAKEN, validate_new_username

EVENT_FIELDS = ("title", "description", "location", "starts_at", "ends_at", "all_day", "visibility")


class TooSoon(Exception):
    """What the user asks is allowed again after `retry_after` seconds (the API's RATE_LIMITED)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def _validate(instance, exclude: tuple[str, ...] = (), validate_unique: bool = False) -> None:
    instance.full_clean(exclude=exclude, validate_unique=validate_unique, validate_constraints=False)


def signup(username: str, password: str, display_name: str, timezone_name: str) -> User:
    """A new user (the caller issues their first token)."""
    validate_new_username(username)
    user = User(username=username, display_name=display_name, timezone=timezone_name)
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    # User.clean checks that no one has the name in any case or form, which covers Django's
    # own exact check (validate_unique) in the same one query.
    _validate(user, exclude=("password",))
    user.set_password(password)  # last: a signup refused for its other fields costs no hashing
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent signup took the name between the check and the insert
        raise ValidationError({"username": TAKEN}) from None
    return user


def visible_event(viewer: User, event_id: int, for_update: bool = False) -> Event:
    events = Event.objects.visible_to(viewer)
    if for_update:
        events = events.select_for_update(of=("self",))
    event = events.filter(pk=event_id).first()
    if event is None:
        raise Event.DoesNotExist("No event with this ID.")
    return event


def own_event(viewer: User, event_id: int) -> Event:
    event = visible_event(viewer, event_id, for_update=True)
    if event.owner_id != viewer.pk:
        raise PermissionDenied("Only the event's owner may change it.")
    return event


def _check_event(event: Event) -> Event:
    _validate(event, exclude=("owner",))  # the fields, then Event.clean's rules across them
    return event


def create_event(owner: User, **fields: Any) -> Event:
    event = _check_event(Event(owner=owner, **fields))
    save_event(event)
    return event


def update_event(viewer: User, event_id: int, **fields: Any) -> Event:
    event = own_event(viewer, event_id)
    for name, value in fields.items():
        if value is None:
            raise ValidationError({name: "This field cannot be null."})
        setattr(event, name, value)
    save_event(_check_event(event))
    return event


def save_event(event: Event) -> None:
    """Save a new or changed event numbered for delta sync, with when its owner's friends
    could see it (the API's mutations and the admin both save events through here).
    Call inside the writing transaction."""
    earlier = event.number_change(next_change_seq())
    event.save()
    if earlier is not None:  # friends see it again: keep when they saw it before
        earlier.save()


def delete_event(viewer: User, event_id: int) -> None:
    remove_event(own_event(viewer, event_id))


def remove_event(event: Event) -> None:
    """Delete the event and leave a tombstone for delta sync (for the API and the admin)."""
    seq = next_change_seq()
    DeletedEvent.objects.create(
        event_id=event.pk,
        owner_id=event.owner_id,
        change_seq=seq,
        shown_seq=event.shown_seq,
        hidden_seq=min(event.hidden_seq, seq),  # friends who still saw it did until now
    )
    event.delete()


def set_rsvp(viewer: User, event_id: int, status: str | None) -> Event:
    """Anyone who can see an event may RSVP to it; a None status clears the RSVP.

    The event's change_seq moves too (its attendeeCount and viewerRsvp changed), but not
    its updatedAt. The event row is locked first: writers lock rows before the counter."""
    event = visible_event(viewer, event_id, for_update=True)
    if status is None:
        Rsvp.objects.filter(event=event, user=viewer).delete()
    else:
        Rsvp.objects.update_or_create(event=event, user=viewer, defaults={"status": status})
    event.change_seq = next_change_seq()
    Event.objects.filter(pk=event.pk).update(change_seq=event.change_seq)
    return event


def are_friends(user: User, other: User) -> bool:
    return Friendship.objects.filter(user=user, friend=other).exists()


def send_friend_request(viewer: User, username: str) -> FriendRequest:
    """Send (or send again) the viewer's friend request to the user called `username`. A
    declined request may be sent again only FRIEND_REQUEST_COOLDOWN seconds after the decline."""
    recipient = User.objects.named(username).first()
    if recipient is None:
        raise User.DoesNotExist(f"No user is called '{username}'.")
    if recipient.pk == viewer.pk:
        raise ValidationError({"username": "You cannot send a friend request to yourself."})
    if are_friends(viewer, recipient):
        raise ValidationError({"username": f"You are already friends with {recipient.username}."})
    if FriendRequest.objects.filter(from_user=recipient, to_user=viewer, status=FriendRequest.Status.PENDING).exists():
        message = f"{recipient.username} has already sent you a friend request: respond to it."
        raise ValidationError({"username": message})
    # Locked, so that a decline and a second request cannot cross.
    request, created = FriendRequest.objects.select_for_update().get_or_create(from_user=viewer, to_user=recipient)
    if not created:
        wait = _cooldown_left(request)
        if wait > 0:
            raise TooSoon(
                f"You cannot send {recipient.username} a friend request again yet: try again in {_in_words(wait)}.",
                wait,
            )
        request.status, request.created_at, request.answered_at = FriendRequest.Status.PENDING, timezone.now(), None
        request.save(update_fields=["status", "created_at", "answered_at"])
    return request


def _cooldown_left(request: FriendRequest) -> float:
    """Seconds before the sender of `request` may send it again: after a decline,
    FRIEND_REQUEST_COOLDOWN; after an acceptance (then an unfriending), none."""
    if request.status != FriendRequest.Status.DECLINED:
        return 0
    # A request declined before answers were dated counts from when it was sent.
    declined_at = request.answered_at or request.created_at
    left = (declined_at + dt.timedelta(seconds=settings.FRIEND_REQUEST_COOLDOWN) - timezone.now()).total_seconds()
    if left <= 0:
        return 0
    # Friends since then, by the recipient's own request (and since unfriended): the decline is old news.
    friends_since = FriendRequest.objects.filter(
        from_user=request.to_user_id,
        to_user=request.from_user_id,
        status=FriendRequest.Status.ACCEPTED,
        answered_at__gt=declined_at,
    )
    return 0 if friends_since.exists() else left


def _in_words(seconds: float) -> str:
    """A wait as a person says it, in its largest unit, rounded up: "7 days", "1 hour"."""
    unit, length = next(
        ((unit, length) for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)) if seconds >= length),
        ("second", 1),
    )
    count = max(1, math.ceil(seconds / length))
    return f"{count} {unit}{'s' if count > 1 else ''}"


def respond_to_friend_request(viewer: User, request_id: int, accept: bool) -> tuple[FriendRequest, User | None]:
    """Accepting makes the two users friends both ways; returns the request and the new friend."""
    request = (
        FriendRequest.objects.visible_to(viewer).select_for_update().select_related("from_user").filter(pk=request_id)
    ).first()
    if request is None:
        raise FriendRequest.DoesNotExist("No friend request with this ID.")
    if request.to_user_id != viewer.pk:
        raise PermissionDenied("Only the recipient may respond to a friend request.")
    if request.status != FriendRequest.Status.PENDING:
        raise ValidationError({"request_id": f"This request was already {request.status.lower()}."})
    request.status = FriendRequest.Status.ACCEPTED if accept else FriendRequest.Status.DECLINED
    request.answered_at = timezone.now()
    request.save(update_fields=["status", "answered_at"])
    if not accept:
        return request, None
    sender = request.from_user
    seq = next_change_seq()
    Friendship.objects.bulk_create(
        [
            Friendship(user=viewer, friend=sender, change_seq=seq),
            Friendship(user=sender, friend=viewer, change_seq=seq),
        ],
        ignore_conflicts=True,
    )
    return request, sender


def remove_friend(viewer: User, user_id: int) -> None:
    """Ends the friendship for both sides, and records the end (both ways) for delta sync."""
    both_ways = Friendship.objects.filter(Q(user=viewer, friend_id=user_id) | Q(user_id=user_id, friend=viewer))
    friendships = list(both_ways.select_for_update().order_by("pk"))
    if not friendships:
        raise User.DoesNotExist("That user is not your friend.")
    seq = next_change_seq()
    Friendship.objects.filter(pk__in=[friendship.pk for friendship in friendships]).delete()
    EndedFriendship.objects.bulk_create(
        EndedFriendship(user_id=f.user_id, former_friend_id=f.friend_id, began_seq=f.change_seq, change_seq=seq)
        for f in friendships
    )
