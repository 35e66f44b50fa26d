from __future__ import annotations

import graphene
from graphene_django import DjangoObjectType

from calendarapp.models import FriendRequest
from loaders.users import UserByIdLoader

from ..pagination import CountableConnection
from ..scalars import DateTime
from .common import related
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

    resolve_from_ = staticmethod(related("from_user", UserByIdLoader))
    resolve_to = staticmethod(related("to_user", UserByIdLoader))


class FriendRequestConnection(CountableConnection):
    class Meta:
        node = FriendRequestType
