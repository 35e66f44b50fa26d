"""Running a compiled plan (schema/plans/compiler.py): the answer built level by level.

A selection is walked for all its parents at once: attributes, IDs and `__typename` are read
into the answer as they come, and each loader-backed field only notes its keys. When nothing
more can be walked, the loader waiting longest runs one batch for every key noted for it
(`DataLoader.values`), its values are completed into the answer, and walking goes on below
them: the order graphql-core's path dispatches loaders in, so both run the same statements.
No ResolveInfo, Path or future per field, and no dispatch on the field's type per value.

Anything unexpected stops the run with `FallBack` (an error in a field or a loader, a null in
a non-null field, a value of the wrong type, the request's deadline): the operation then runs
on graphql-core's path, which reports it exactly as the spec says, with the values already
loaded still in the loaders' caches (no statement runs twice).
"""

from __future__ import annotations

from collections.abc import Hashable
from inspect import isfunction, ismethod
from typing import Any, cast

from django.utils.functional import LazyObject
from graphql import GraphQLObjectType, GraphQLSchema
from graphql.pyutils import is_iterable

from loaders.base import DataLoader

from ..graphql_core_path import get_argument_values
from .fillers import serialized
from .plan import ATTRIBUTE, LOADED, DeadlinePassed, FallBack, FieldPlan, OperationPlan, TypePlan


class ContextInfo:
    """What a `context_only` resolver gets for `info`."""

    __slots__ = ("context",)

    def __init__(self, context: Any) -> None:
        self.context = context


class PlanRun:
    """One run of one plan, for one operation's context and variables."""

    def __init__(self, schema: GraphQLSchema, context: Any, variable_values: dict[str, Any]) -> None:
        self.schema = schema
        self.context = context
        self.info = ContextInfo(context)
        self.variable_values = variable_values
        self.deadline = getattr(context, "deadline", None)
        # Loader class -> the fields waiting on it: (field, keys, the answers' objects); oldest first.
        self.waiting: dict[type[DataLoader], list[tuple[FieldPlan, list[Hashable], list[dict]]]] = {}
        self.arguments: dict[int, dict[str, Any]] = {}
        self.ids: dict[str, dict[Any, str]] = {}

    def run(self, plan: OperationPlan) -> dict[str, Any]:
        data: dict[str, Any] = {}
        self.walk(plan.root, [None], [data])
        while self.waiting:
            loader_class = next(iter(self.waiting))
            waiting = self.waiting.pop(loader_class)
            if self.deadline is not None and self.deadline.expired():
                raise DeadlinePassed("deadline")
            values = loader_class(self.context).values([key for _, keys, _ in waiting for key in keys])
            start = 0
            for field, keys, outs in waiting:
                self.complete(field, values[start : start + len(keys)], outs)
                start += len(keys)
        return data

    def walk(self, plan: TypePlan, sources: list[Any], outs: list[dict]) -> None:
        """Fill each of `outs` with `plan`'s fields of the matching source."""
        plan.fill(sources, outs, self.ids)
        for field in plan.rest:
            source = field.source
            if source == ATTRIBUTE:
                attname, default = field.attname, field.default
                values = [
                    parent.get(attname, default) if isinstance(parent, dict) else getattr(parent, attname, default)
                    for parent in sources
                ]
                if field.calls_methods:
                    values = [value() if isfunction(value) or ismethod(value) else value for value in values]
                self.complete(field, values, outs)
            elif source == LOADED:
                self.note_keys(field, sources, outs)
            else:
                arguments = self.arguments_of(field)
                resolve, info = field.resolver, self.info
                assert resolve is not None  # every CALLED field has its resolver
                self.complete(field, [resolve(parent, info, **arguments) for parent in sources], outs)

    def note_keys(self, field: FieldPlan, sources: list[Any], outs: list[dict]) -> None:
        """Note the loader keys of a loader-backed field, its place in each answer kept."""
        key = field.response_key
        declaration = field.batched
        assert declaration is not None  # every LOADED field has its declaration
        try:
            arguments = declaration.arguments_of(self.context, self.arguments_of(field))
        except Exception as error:
            raise FallBack(f"arguments of {key}") from error
        if declaration.one_loader:
            assert declaration.loader is not None  # one_loader: its loader is named
            keys = declaration.keys_of(sources, arguments)
            self.waiting.setdefault(declaration.loader, []).append((field, keys, outs))
            return
        by_loader: dict[type[DataLoader], tuple[list, list]] = {}
        for parent, out in zip(sources, outs, strict=True):
            located = declaration.locate(parent, arguments)
            if located is not None:
                loader_class, loader_key = located
                keys, waiting_outs = by_loader.setdefault(loader_class, ([], []))
                keys.append(loader_key)
                waiting_outs.append(out)
            elif field.non_null:
                raise FallBack(f"null for non-null {key}")
        for loader_class, (keys, waiting_outs) in by_loader.items():
            self.waiting.setdefault(loader_class, []).append((field, keys, waiting_outs))

    def arguments_of(self, field: FieldPlan) -> dict[str, Any]:
        if not field.takes_arguments:
            return {}
        arguments = self.arguments.get(id(field))
        if arguments is None:
            try:
                arguments = get_argument_values(field.field_def, field.field_nodes[0], self.variable_values)
            except Exception as error:
                raise FallBack("arguments") from error
            self.arguments[id(field)] = arguments
        return arguments

    def complete(self, field: FieldPlan, values: list[Any], outs: list[dict]) -> None:
        """Put each value, completed as the field's type says, in its answer."""
        key = field.response_key
        serialize = field.serialize
        children: list[Any] = []
        child_outs: list[dict] = []
        for value, out in zip(values, outs, strict=True):
            if value is None:
                if field.non_null:
                    raise FallBack(f"null for non-null {key}")
                out[key] = None
            elif isinstance(value, Exception):
                raise FallBack(f"error in {key}")
            elif field.is_list:
                out[key] = self.complete_list(field, value, children, child_outs)
            elif serialize is not None:
                out[key] = serialized(serialize, value)
            else:
                child: dict[str, Any] = {}
                out[key] = child
                children.append(value)
                child_outs.append(child)
        if children:
            self.walk_objects(field, children, child_outs)

    def complete_list(self, field: FieldPlan, value: Any, children: list[Any], child_outs: list[dict]) -> list[Any]:
        if not is_iterable(value):
            raise FallBack("not a list")
        serialize = field.serialize
        items: list[Any] = []
        for item in value:
            if item is None:
                if field.item_non_null:
                    raise FallBack("null item")
                items.append(None)
            elif isinstance(item, Exception):
                raise FallBack("error item")
            elif serialize is not None:
                items.append(serialized(serialize, item))
            else:
                child: dict[str, Any] = {}
                items.append(child)
                children.append(item)
                child_outs.append(child)
        return items

    def walk_objects(self, field: FieldPlan, objects: list[Any], outs: list[dict]) -> None:
        """Walk the selection below an object-typed field, for each object's runtime type."""
        plans = field.object_plans
        if not field.abstract:
            ((type_name, plan),) = plans.items()
            assert plan is not None  # an object type's one plan: were there none, no plan at all
            object_type = plan.object_type
            if object_type.is_type_of is not None:
                for value in objects:
                    if not is_type_of(object_type, value):
                        raise FallBack(f"not a {type_name}")
            self.walk(plan, objects, outs)
            return
        groups: dict[str, tuple[list, list]] = {}
        for value, out in zip(objects, outs, strict=True):
            type_name = runtime_type_name(self.schema, field, value)
            objects_of_type, outs_of_type = groups.setdefault(type_name, ([], []))
            objects_of_type.append(value)
            outs_of_type.append(out)
        for type_name, (objects_of_type, outs_of_type) in groups.items():
            plan = plans.get(type_name)
            if plan is None:
                raise FallBack(f"no plan for {type_name}")
            self.walk(plan, objects_of_type, outs_of_type)


# is_type_of of graphene-django's types depends on the value's class only: asked once per class.
_type_checks: dict[tuple[str, type], bool] = {}


def is_type_of(object_type: GraphQLObjectType, value: Any) -> bool:
    key = (object_type.name, type(value))
    verdict = _type_checks.get(key)
    if verdict is None:
        check = object_type.is_type_of  # None: the type claims no value (graphql-core passes it by too)
        try:
            verdict = check is not None and bool(check(value, None))  # type: ignore[arg-type]  # graphene's reads no info
        except Exception as error:
            raise FallBack("is_type_of") from error
        if not isinstance(value, LazyObject):  # a lazy object's class says nothing of what it wraps
            _type_checks[key] = verdict
    return verdict


def runtime_type_name(schema: GraphQLSchema, field: FieldPlan, value: Any) -> str:
    """The object type of an interface's value, found as graphene finds it (the first possible
    type whose is_type_of accepts it)."""
    for possible in field.object_plans:
        if is_type_of(cast(GraphQLObjectType, schema.get_type(possible)), value):
            return possible
    raise FallBack("no runtime type")
