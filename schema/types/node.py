"""The `Node` interface, with IDs made and read by `calendarapp.ids` (not graphql-relay's base64)."""

from __future__ import annotations

import graphene
from graphene.relay.id_type import BaseGlobalIDType

from calendarapp.ids import global_id, parse_global_id

from ..errors import BadUserInput


class OpaqueGlobalIDType(BaseGlobalIDType):
    """graphene's hook for a Node's IDs: `id` fields resolve through `to_global_id`."""

    graphene_type = graphene.ID

    @classmethod
    def resolve_global_id(cls, info, global_id: str) -> tuple[str, int]:
        parsed = parse_global_id(global_id)
        if parsed is None:
            raise BadUserInput(f"'{global_id}' is not an ID.", field="id")
        return parsed

    @classmethod
    def to_global_id(cls, _type: str, _id: int) -> str:
        return global_id(_type, _id)


class Node(graphene.relay.Node):
    # Every object type the API gives an ID implements this, not graphene.relay.Node, so
    # that graphene and the compiled plans (schema/plans/fillers.py) make the same IDs.

    class Meta:
        name = "Node"
        description = "An object with an ID"
        global_id_type = OpaqueGlobalIDType
