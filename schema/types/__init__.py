from .event import EventConnection, EventType
from .friend_request import FriendRequestConnection, FriendRequestType
from .user import UserConnection, UserType

__all__ = [
    "EventConnection",
    "EventType",
    "FriendRequestConnection",
    "FriendRequestType",
    "UserConnection",
    "UserType",
]
