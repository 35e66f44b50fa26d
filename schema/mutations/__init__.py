from .auth import Login, Logout, Signup
from .events import CreateEvent, DeleteEvent, SetRsvp, UpdateEvent
from .exports import RequestEventsExport
from .friends import RemoveFriend, RespondToFriendRequest, SendFriendRequest

__all__ = [
    "CreateEvent",
    "DeleteEvent",
    "Login",
    "Logout",
    "RemoveFriend",
    "RequestEventsExport",
    "RespondToFriendRequest",
    "SendFriendRequest",
    "SetRsvp",
    "Signup",
    "UpdateEvent",
]
