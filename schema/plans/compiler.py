"""Compiling a query into a plan: for each selection of each object type the operation can
reach, what each field of the answer is made of, worked out once per document, operation
and `@skip`/`@include` variables, then run for every request (schema/plans/runner.py).

Fields are collected by graphql-core itself (`collect_fields`), so fragments, aliases and
directives mean exactly what they mean on graphql-core's path. Each field gets a source:

- `__typename`, or a Relay `id` made from the parent's primary key;
- an attribute of the parent, read by graphene's default resolver (a column, a connection's
  `edges` or `totalCount`, an edge's `node`);
- a loader's value, declared by the field's resolver (`schema.types.common.Batched`);
- a resolver that reads nothing but its parent and `info.context` (`context_only`);

and a completion from its type: a leaf serialized by its type, an object (a plan of its own;
one per possible type for an interface), either alone or in a list. A field of any other kind
(a resolver the plan knows nothing of, introspection) makes the operation unplannable: it runs
on graphql-core's path, as does every mutation.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from graphene.relay.node import GlobalID
from graphene.types.field import source_resolver
from graphene.types.resolver import dict_or_attr_resolver
from graphene_django import DjangoObjectType
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.language import VariableNode

from ..graphql_core_path import collect_fields, collect_subfields
from ..types.node import OpaqueGlobalIDType
from .fillers import is_filled, make_filler
from .plan import ATTRIBUTE, CALLED, GLOBAL_ID, LOADED, TYPENAME, FieldPlan, OperationPlan, TypePlan, Unplannable


@dataclass
class DocumentPlans:
    """A document's plans by (operation name, values of the variables its directives read)."""

    directive_variables: tuple[str, ...]
    plans: dict[tuple, OperationPlan | None] = field(default_factory=dict)


# Plans live as long as their document (the document cache's entries), and no longer.
_plans_by_document: weakref.WeakKeyDictionary[DocumentNode, DocumentPlans] = weakref.WeakKeyDictionary()


def forget_plans() -> None:
    """Drop every compiled plan (they hold the schema's resolvers and serializers as compiled)."""
    _plans_by_document.clear()


def plan_for(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variable_values: dict[str, Any]
) -> OperationPlan | None:
    """The plan of `operation` for these (coerced) variables; None if it cannot have one."""
    document_plans = _plans_by_document.get(document)
    if document_plans is None:
        document_plans = DocumentPlans(_directive_variables(document))
        _plans_by_document[document] = document_plans
    shape = (
        operation.name.value if operation.name else None,
        tuple(variable_values.get(name) for name in document_plans.directive_variables),
    )
    try:
        return document_plans.plans[shape]
    except KeyError:
        pass
    try:
        plan = _compile(schema, document, operation, variable_values)
    except Unplannable:
        plan = None
    document_plans.plans[shape] = plan
    return plan


def _directive_variables(document: DocumentNode) -> tuple[str, ...]:
    """The variables any directive of the document reads (only `@skip`/`@include` exist)."""
    names: set[str] = set()
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        for directive in getattr(node, "directives", None) or ():
            names.update(
                argument.value.name.value
                for argument in directive.arguments
                if isinstance(argument.value, VariableNode)
            )
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return tuple(sorted(names))


def _compile(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variable_values: dict[str, Any]
) -> OperationPlan:
    if operation.operation != OperationType.QUERY:
        raise Unplannable("only queries have plans")
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    compiler = _Compiler(schema, fragments, variable_values)
    root_type = schema.query_type
    if root_type is None:
        raise Unplannable("the schema has no query type")
    return OperationPlan(
        compiler.type_plan(
            root_type, collect_fields(schema, fragments, variable_values, root_type, operation.selection_set)
        )
    )


class _Compiler:
    def __init__(self, schema: GraphQLSchema, fragments: dict, variable_values: dict[str, Any]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variable_values = variable_values

    def type_plan(self, object_type: GraphQLObjectType, fields: dict[str, list[FieldNode]]) -> TypePlan:
        plans = [self.field_plan(object_type, key, nodes) for key, nodes in fields.items()]
        return TypePlan(object_type, plans, make_filler(plans), [plan for plan in plans if not is_filled(plan)])

    def field_plan(self, parent_type: GraphQLObjectType, response_key: str, nodes: list[FieldNode]) -> FieldPlan:
        name = nodes[0].name.value
        if name == "__typename":
            return FieldPlan(response_key, TYPENAME, type_name=parent_type.name, non_null=True)
        field_def = parent_type.fields.get(name)
        if field_def is None:  # __schema, __type: introspection
            raise Unplannable(name)
        plan = FieldPlan(response_key, self._source(parent_type, field_def), nodes, field_def)
        self._describe_source(plan, parent_type, field_def)
        self._describe_completion(plan, field_def.type, nodes)
        return plan

    @staticmethod
    def _source(parent_type: GraphQLObjectType, field_def) -> int:
        resolve = field_def.resolve
        if getattr(resolve, "batched", None) is not None:
            return LOADED
        if getattr(resolve, "context_only", False):
            return CALLED
        if isinstance(resolve, partial) and resolve.func in (dict_or_attr_resolver, source_resolver):
            return ATTRIBUTE
        if isinstance(resolve, partial) and resolve.func is GlobalID.id_resolver and _makes_our_ids(*resolve.args):
            return GLOBAL_ID
        raise Unplannable(f"{parent_type.name}: a resolver without a declaration")

    @staticmethod
    def _describe_source(plan: FieldPlan, parent_type: GraphQLObjectType, field_def) -> None:
        resolve = field_def.resolve
        plan.takes_arguments = bool(field_def.args)
        if plan.source == LOADED:
            plan.batched = resolve.batched
        elif plan.source == CALLED:
            plan.resolver = resolve
        elif plan.source == ATTRIBUTE and resolve.func is source_resolver:  # a field's `source=`
            (plan.attname,) = resolve.args
            plan.calls_methods = True
        elif plan.source == ATTRIBUTE:
            plan.attname, plan.default = resolve.args
        else:
            plan.type_name = resolve.keywords.get("parent_type_name") or parent_type.name

    def _describe_completion(self, plan: FieldPlan, field_type, nodes: list[FieldNode]) -> None:
        plan.non_null = is_non_null_type(field_type)
        named = field_type.of_type if plan.non_null else field_type
        if is_list_type(named):
            plan.is_list = True
            named = named.of_type
            plan.item_non_null = is_non_null_type(named)
            named = named.of_type if plan.item_non_null else named
            if isinstance(named, GraphQLList | GraphQLNonNull):
                raise Unplannable("lists of lists")
        if plan.source == GLOBAL_ID:
            return
        if is_leaf_type(named):
            plan.serialize = named.serialize
            plan.leaf_type = named
        elif is_object_type(named):
            plan.object_plans = {named.name: self._object_plan(named, nodes)}
        elif is_abstract_type(named):
            plan.abstract = True
            # A possible type with an unplannable selection fails only the answers that hold one.
            plan.object_plans = {
                possible.name: self._object_plan_or_none(possible, nodes)
                for possible in self.schema.get_possible_types(named)
            }
        else:  # pragma: no cover - every output type is one of the above
            raise Unplannable(str(named))

    def _object_plan_or_none(self, object_type: GraphQLObjectType, nodes: list[FieldNode]) -> TypePlan | None:
        try:
            return self._object_plan(object_type, nodes)
        except Unplannable:
            return None

    def _object_plan(self, object_type: GraphQLObjectType, nodes: list[FieldNode]) -> TypePlan:
        subfields = collect_subfields(self.schema, self.fragments, self.variable_values, object_type, nodes)
        return self.type_plan(object_type, subfields)


def _makes_our_ids(parent_resolver: Any, node: Any) -> bool:
    """Whether graphene makes this `id` from the parent's primary key with
    `calendarapp.ids.global_id`, as the plan does (the IDs of `schema.types.node.Node`)."""
    return parent_resolver is DjangoObjectType.resolve_id and node._meta.global_id_type is OpaqueGlobalIDType
