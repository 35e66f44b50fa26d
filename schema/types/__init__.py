from .change_set import ChangeSetType
from .event import EventConnection, EventType
from .export_job import ExportJobType
from .friend_request import FriendRequestConnection, FriendRequestType
from .rows import declare_rows
from .user import UserConnection, UserType

declare_rows(UserType, EventType)

__all__ = [
    "ChangeSetType",
    "EventConnection",
    "EventType",
    "ExportJobType",
    "FriendRequestConnection",
    "FriendRequestType",
    "UserConnection",
    "UserType",
]
