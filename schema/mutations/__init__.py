from .auth import Login, Signup
from .events import CreateEvent, DeleteEvent, Rsvp, UpdateEvent
from .friends import RemoveFriend, RespondToFriendRequest, SendFriendRequest

__all__ = [
    "CreateEvent",
    "DeleteEvent",
    "Login",
    "RemoveFriend",
    "RespondToFriendRequest",
    "Rsvp",
    "SendFriendRequest",
    "Signup",
    "UpdateEvent",
]
