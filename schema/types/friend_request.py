from __future__ import annotations

import graphene
from graphene_django import DjangoObjectType

from calendarapp.models import FriendRequest
from loaders.users import UserByIdLoader

from ..pagination import CountableConnection
from ..scalars import DateTime
from .common import related_or_load
from .node import Node


class FriendRequestType(DjangoObjectType):
    class Meta:
        model = FriendRequest
        name = "FriendRequest"
        interfaces = (Node,)
        fields = ("id", "created_at")

    from_ = graphene.Field("schema.types.user.UserType", name="from", required=True)
    to = graphene.Field("schema.types.user.UserType", required=True)
    created_at = DateTime(required=True)

    @staticmethod
    def resolve_from_(root: FriendRequest, info):
        return related_or_load(root, "from_user", UserByIdLoader, info)

    @staticmethod
    def resolve_to(root: FriendRequest, info):
        return related_or_load(root, "to_user", UserByIdLoader, info)


class FriendRequestConnection(CountableConnection):
    class Meta:
        node = FriendRequestType
