"""What a compiled plan is made of (schema/plans/compiler.py makes it, runner.py runs it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import FieldNode, GraphQLObjectType

from ..types.common import Batched

# Where a field's value comes from.
TYPENAME, GLOBAL_ID, ATTRIBUTE, LOADED, CALLED = range(5)


class Unplannable(Exception):
    """The operation has a field no plan can make: it runs on graphql-core's path."""


class FallBack(Exception):
    """A run met what only graphql-core's path answers exactly (an error, a null in a non-null
    field, a value of an unexpected type): the operation runs there instead."""


class DeadlinePassed(FallBack):
    """The request's deadline passed between two batches: graphql-core's path answers what
    is loaded and cuts the rest, as it does itself (config/deadline.py)."""


@dataclass(slots=True)
class FieldPlan:
    response_key: str
    source: int
    field_nodes: list[FieldNode] = field(default_factory=list)
    field_def: Any = None
    # TYPENAME: the type's name; GLOBAL_ID: the type name the ID is made for.
    type_name: str = ""
    # ATTRIBUTE: graphene's default resolver's attribute name and default.
    attname: str = ""
    default: Any = None
    calls_methods: bool = False  # `source=` names a method or an attribute
    # LOADED: the declaration; CALLED: the resolver.
    batched: Batched | None = None
    resolver: Callable[..., Any] | None = None
    takes_arguments: bool = False
    # Completion: nullability of the field and (for a list) of its items.
    non_null: bool = False
    is_list: bool = False
    item_non_null: bool = False
    # A leaf's serializer, or the plans of an object's possible types (one for an object type).
    serialize: Callable[[Any], Any] | None = None
    leaf_type: Any = None
    object_plans: dict[str, TypePlan | None] = field(default_factory=dict)
    abstract: bool = False


@dataclass(slots=True)
class TypePlan:
    """The fields of one selection on one object type, in the order of the answer: `fill`
    writes the plain ones for many parents at once (schema/plans/fillers.py), `rest` are
    those the runner completes."""

    object_type: GraphQLObjectType
    fields: list[FieldPlan]
    fill: Callable[[list[Any], list[dict], dict], None]
    rest: list[FieldPlan]


@dataclass(slots=True)
class OperationPlan:
    root: TypePlan
