from .event import EventConnection, EventType
from .export_job import ExportJobType
from .friend_request import FriendRequestConnection, FriendRequestType
from .user import UserConnection, UserType

__all__ = [
    "EventConnection",
    "EventType",
    "ExportJobType",
    "FriendRequestConnection",
    "FriendRequestType",
    "UserConnection",
    "UserType",
]
