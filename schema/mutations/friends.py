from __future__ import annotations

import graphene

from calendarapp import services

from ..ids import pk_from_global_id
from ..types import FriendRequestType, UserType
from .base import CalendarMutation


class SendFriendRequest(CalendarMutation):
    class Input:
        username = graphene.String(required=True)

    request = graphene.Field(FriendRequestType, required=True)

    @classmethod
    def perform(cls, info, viewer, username):
        return cls(request=services.send_friend_request(viewer, username))


class RespondToFriendRequest(CalendarMutation):
    class Input:
        request_id = graphene.ID(required=True)
        accept = graphene.Boolean(required=True)

    request = graphene.Field(FriendRequestType, required=True)
    friend = graphene.Field(UserType, description="The new friend, when accepted.")

    @classmethod
    def perform(cls, info, viewer, request_id, accept):
        pk = pk_from_global_id(request_id, "FriendRequest", field="requestId")
        request, friend = services.respond_to_friend_request(viewer, pk, accept)
        return cls(request=request, friend=friend)


class RemoveFriend(CalendarMutation):
    class Input:
        user_id = graphene.ID(required=True)

    removed_user_id = graphene.ID(required=True)

    @classmethod
    def perform(cls, info, viewer, user_id):
        services.remove_friend(viewer, pk_from_global_id(user_id, "User", field="userId"))
        return cls(removed_user_id=user_id)
