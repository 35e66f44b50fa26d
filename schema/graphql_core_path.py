"""graphql-core's executor, taught to wait for DataLoader futures: the one module that uses
graphql-core's execution internals (`graphql.execution`), so that a new graphql-core (3.3
renames `ExecutionContext` to `Executor`) is a change here only. Other modules use what it
exports (`__all__`): `execute_reference` runs an operation, and `collect_fields`,
`collect_subfields`, `get_field_def`, `get_argument_values` and `get_variable_values` are
graphql-core's own field collection and value coercion, for code that walks a document as
execution does.

A resolver may return a pending `loaders.future.Future` (from `loaders.base.DataLoader.load`).
The executor keeps walking every other field it can reach, so all the keys of a
level are queued before any loader runs; `_drain` then dispatches the queued
loaders one batch at a time, and each batch resolves the next level.

Errors follow the GraphQL spec for deferred values too: a failed nullable field
becomes null with its error reported; a failed non-null field nulls its parent,
up to the nearest nullable ancestor (a failed future carries that propagation).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import transaction
from graphene.relay.node import GlobalID
from graphene.types.resolver import dict_or_attr_resolver
from graphene_django import DjangoObjectType
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
    located_error,
)
from graphql.execution import ExecutionContext, ExecutionResult, execute
from graphql.execution.collect_fields import collect_fields, collect_sub_fields
from graphql.execution.execute import get_field_def
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.pyutils import Path, Undefined, is_iterable

from calendarapp.ids import global_id
from config.deadline import Deadline, DeadlineExceeded
from loaders.future import Future

from .schema import GRAPHQL_SCHEMA
from .types.node import OpaqueGlobalIDType

__all__ = [
    "CalendarExecutionContext",
    "ExecutionResult",
    "collect_fields",
    "collect_subfields",
    "execute_reference",
    "get_argument_values",
    "get_field_def",
    "get_variable_values",
]


def execute_reference(
    document: DocumentNode, variables: dict[str, Any] | None, operation_name: str | None, context: Any
) -> ExecutionResult:
    """Run the operation `operation_name` of `document` (valid, prepared by schema/documents.py)
    with `variables` and `context`, through graphql-core's executor and `CalendarExecutionContext`.
    Variables that do not fit their types come back as errors without a path and no data."""
    return execute(
        GRAPHQL_SCHEMA,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        execution_context_class=CalendarExecutionContext,
    )


def collect_subfields(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    variable_values: dict[str, Any],
    return_type: GraphQLObjectType,
    field_nodes: list[FieldNode],
) -> dict[str, list[FieldNode]]:
    """The fields selected under `field_nodes` (one response key's nodes) on `return_type`, by
    response key, fragments and @skip/@include applied: graphql-core's `collect_sub_fields`."""
    return collect_sub_fields(schema, fragments, variable_values, return_type, field_nodes)


# A direct read's answer when the field needs the full path (an error to report).
FALL_BACK = object()


def direct_reader(schema, parent_type, field_nodes) -> Callable[[Any], Any] | None:
    """Most fields of a large answer are plain columns: a scalar read from an
    attribute by graphene's default resolver (`title`, `startsAt`, `totalCount`)
    or a Relay `id`. Reading those directly, without building a ResolveInfo and a
    Path for each, is most of the executor's speed on big lists. Returns None for
    any other field, and the reader returns FALL_BACK (so the field takes the full
    path, with its error handling) for anything unexpected."""
    field_def = get_field_def(schema, parent_type, field_nodes[0])
    if field_def is None or field_nodes[0].arguments:
        return None
    non_null = is_non_null_type(field_def.type)
    leaf_type = field_def.type.of_type if non_null else field_def.type
    resolve = field_def.resolve
    if not is_leaf_type(leaf_type) or not isinstance(resolve, partial):
        return None
    if resolve.func is dict_or_attr_resolver:
        attname, default = resolve.args
        return partial(_read_attribute, attname, default, leaf_type.serialize, non_null)
    if resolve.func is GlobalID.id_resolver and _makes_our_ids(*resolve.args):
        type_name = resolve.keywords.get("parent_type_name") or parent_type.name
        return partial(_read_global_id, type_name)
    return None


def _makes_our_ids(parent_resolver: Any, node: Any) -> bool:
    """Whether graphene would make this `id` as `_read_global_id` does: a model's primary
    key through `calendarapp.ids.global_id` (the IDs of `schema.types.node.Node`)."""
    return parent_resolver is DjangoObjectType.resolve_id and node._meta.global_id_type is OpaqueGlobalIDType


def loader_reader(field_def, context: Any) -> Callable[[Any], Any] | None:
    """A field declared with `schema.types.common.loader_field` (a count, isFriend,
    viewerRsvp): the loader is asked directly, without a ResolveInfo or a resolver
    call, and its pending value is a `PendingLeaf` instead of a settled future."""
    declared = getattr(field_def.resolve, "loaded_by", None)
    non_null = is_non_null_type(field_def.type)
    leaf_type = field_def.type.of_type if non_null else field_def.type
    if declared is None or context is None or not is_leaf_type(leaf_type):
        return None
    loader_class, key = declared
    return partial(_read_through_loader, context, loader_class, key, leaf_type.serialize, non_null)


def direct_object_attribute(schema, parent_type, field_nodes) -> tuple[str, Any, GraphQLObjectType, Any] | None:
    """(attribute, default, object type, field type) for a field that graphene's default resolver
    reads from an attribute and whose type is an object type (an edge's `node`, a
    connection's `pageInfo`): such a field needs no resolver call either."""
    field_def = get_field_def(schema, parent_type, field_nodes[0])
    if field_def is None or field_nodes[0].arguments:
        return None
    named = field_def.type.of_type if is_non_null_type(field_def.type) else field_def.type
    resolve = field_def.resolve
    if not is_object_type(named) or not isinstance(resolve, partial) or resolve.func is not dict_or_attr_resolver:
        return None
    attname, default = resolve.args
    return attname, default, named, field_def.type


def _read_attribute(attname: str, default: Any, serialize: Callable[[Any], Any], non_null: bool, source: Any) -> Any:
    try:
        value = source.get(attname, default) if isinstance(source, dict) else getattr(source, attname, default)
        if value is None:
            return FALL_BACK if non_null else None
        serialized = serialize(value)
    except Exception:
        return FALL_BACK
    return FALL_BACK if serialized is Undefined else serialized


def _read_through_loader(context, loader_class, key: str, serialize, non_null: bool, source: Any) -> Any:
    if context.viewer is None:
        return FALL_BACK  # the full path raises UNAUTHENTICATED
    future = loader_class(context).load(getattr(source, key))
    leaf = PendingLeaf(future, serialize, non_null)
    return leaf.result() if future.done() else leaf


class PendingLeaf:
    """A scalar field's loader value still to come, serialized when it is in; to a
    `Gathering` it looks like a future. Anything unexpected (an error, a null for a
    non-null field) runs the field again through the full path, which reports it."""

    __slots__ = ("future", "serialize", "non_null", "retry")

    def __init__(self, future: Future, serialize: Callable[[Any], Any], non_null: bool) -> None:
        self.future = future
        self.serialize = serialize
        self.non_null = non_null
        self.retry: Callable[[], Any] | None = None

    def when_done(self, callback: Callable[[], None]) -> None:
        self.future.when_done(callback)

    def result(self) -> Any:
        try:
            value = self.future.result()
            serialized = None if value is None else self.serialize(value)
        except Exception:
            serialized = Undefined
        if serialized is Undefined or (serialized is None and self.non_null):
            if self.retry is None:
                return FALL_BACK
            retried = self.retry()
            return retried.result() if isinstance(retried, Future) else retried
        return serialized


def _read_global_id(type_name: str, source: Any) -> Any:
    pk = getattr(source, "pk", None)
    return FALL_BACK if pk is None else global_id(type_name, pk)


class CalendarExecutionContext(ExecutionContext):
    """Root mutation fields run one at a time, each finished (loaders included)
    before the next starts, as the spec requires, and each with its payload in one
    transaction: if anything in it fails, nothing it wrote stays, so a client that
    sees an error can safely retry.

    The request's deadline (config/deadline.py, `context.deadline`) is checked before
    each root mutation field and each loader batch: once it has passed, what has not
    started is answered with DeadlineExceeded instead (a field waiting on a loader gets
    it through the loader's future, so nulls propagate as for any other error)."""

    _deadline: Deadline | None = None

    def execute_operation(self, operation, root_value):
        self._plans: dict[tuple, tuple[dict, list]] = {}
        self._deadline = getattr(self.context_value, "deadline", None)
        result = super().execute_operation(operation, root_value)
        self._drain()
        return result.result() if isinstance(result, Future) else result

    def build_response(self, data, errors):
        if self._deadline is not None:
            self._deadline.cut("fields", sum(isinstance(error.original_error, DeadlineExceeded) for error in errors))
        return super().build_response(data, errors)

    def _drain(self) -> None:
        loaders = self.context_value.loaders
        deadline = self._deadline
        while loaders.has_pending():
            if deadline is not None and deadline.expired():
                loaders.fail_pending(DeadlineExceeded(deadline))
            else:
                loaders.dispatch_next()

    def execute_fields_serially(self, parent_type, source_value, path, fields):
        results: dict[str, Any] = {}
        for response_name, field_nodes in fields.items():
            if self._deadline is not None and self._deadline.expired():
                results.update(self._cut_root_field(parent_type, field_nodes, path, response_name))
                continue
            errors_before = len(self.errors)
            with transaction.atomic():
                result = self.execute_fields(parent_type, source_value, path, {response_name: field_nodes})
                self._drain()
                rolled_back = len(self.errors) > errors_before
                if rolled_back:
                    transaction.set_rollback(True)
                    self.context_value.loaders.clear()
            result = result.result() if isinstance(result, Future) else result
            if rolled_back and not is_non_null_type(parent_type.fields[field_nodes[0].name.value].type):
                # Nothing it wrote stays: a payload would describe a write that did not happen.
                result = {response_name: None}
            results.update(result)
        return results

    def _cut_root_field(self, parent_type, field_nodes, path, response_name) -> dict[str, Any]:
        """A root mutation field not started because the deadline has passed: its error,
        and null (or the error goes on up, nulling `data`, if the field is non-null)."""
        field_path = Path(path, response_name, parent_type.name)
        error = located_error(DeadlineExceeded(self._deadline), field_nodes, field_path.as_list())
        return_type = parent_type.fields[field_nodes[0].name.value].type
        return {response_name: self.handle_field_error(error, return_type)}

    def execute_fields(self, parent_type, source_value, path, fields):
        results: dict[str, Any] = {}
        pending = False
        for response_name, field_nodes, read, object_read in self._field_plan(parent_type, fields):
            if read is not None:
                value = read(source_value)
                if type(value) is PendingLeaf:
                    retry = partial(self._retry_field, parent_type, source_value, field_nodes, path, response_name)
                    value.retry = retry
                    pending = True
                if value is not FALL_BACK:
                    results[response_name] = value
                    continue
            field_path = Path(path, response_name, parent_type.name)
            if object_read is not None:
                result = self._object_directly(object_read, source_value, field_nodes, field_path)
            else:
                result = FALL_BACK
            if result is FALL_BACK:
                result = self.execute_field(parent_type, source_value, field_nodes, field_path)
            if result is not Undefined:
                results[response_name] = result
                pending = pending or isinstance(result, Future)
        return self._gather(results, list(results)) if pending else results

    def _object_directly(self, object_read, source, field_nodes, path) -> Any:
        """An object-typed attribute completed without a resolver call or a ResolveInfo;
        FALL_BACK for anything the full path must handle (a null, a type mismatch)."""
        attname, default, object_type, return_type = object_read
        value = source.get(attname, default) if isinstance(source, dict) else getattr(source, attname, default)
        if value is None or (object_type.is_type_of is not None and not object_type.is_type_of(value, None)):
            return FALL_BACK
        try:
            completed = self.execute_fields(object_type, value, path, self.collect_subfields(object_type, field_nodes))
        except Exception as raw_error:
            # A non-null field below failed: as in execute_field, this field is null
            # (reported here), or the error goes on up if this field is non-null.
            return self.handle_field_error(located_error(raw_error, field_nodes, path.as_list()), return_type)
        if isinstance(completed, Future):
            return self._settle_later(completed, return_type, field_nodes, path)
        return completed

    def _direct_reader(self, parent_type, field_nodes) -> Callable[[Any], Any] | None:
        read = direct_reader(self.schema, parent_type, field_nodes)
        if read is None and not field_nodes[0].arguments:
            field_def = get_field_def(self.schema, parent_type, field_nodes[0])
            read = loader_reader(field_def, self.context_value) if field_def else None
        return read

    def _retry_field(self, parent_type, source, field_nodes, path, response_name) -> Any:
        return self.execute_field(parent_type, source, field_nodes, Path(path, response_name, parent_type.name))

    def _field_plan(self, parent_type, fields) -> list[tuple]:
        """The fields of a selection with each one's direct reader, if it is a plain
        column; worked out once per selection of the operation, used for every row."""
        key = (parent_type, id(fields))
        cached = self._plans.get(key)
        if cached is None:
            direct = not self.middleware_manager
            plan = [
                (
                    name,
                    nodes,
                    self._direct_reader(parent_type, nodes) if direct else None,
                    direct_object_attribute(self.schema, parent_type, nodes) if direct else None,
                )
                for name, nodes in fields.items()
            ]
            # Keeping `fields` alive with its plan keeps its id from being reused.
            cached = self._plans[key] = (fields, plan)
        return cached[1]

    def execute_field(self, parent_type, source, field_nodes, path):
        field_def = get_field_def(self.schema, parent_type, field_nodes[0])
        if not field_def:
            return Undefined
        return_type = field_def.type
        resolve_fn = field_def.resolve or self.field_resolver
        if self.middleware_manager:
            resolve_fn = self.middleware_manager.get_field_resolver(resolve_fn)
        info = self.build_resolve_info(field_def, field_nodes, parent_type, path)
        try:
            args = get_argument_values(field_def, field_nodes[0], self.variable_values)
            result = resolve_fn(source, info, **args)
            if isinstance(result, Future):
                if not result.done():
                    return self._complete_later(result, return_type, field_nodes, info, path)
                result = result.result()
            completed = self.complete_value(return_type, field_nodes, info, path, result)
            if isinstance(completed, Future):
                return self._settle_later(completed, return_type, field_nodes, path)
            return completed
        except Exception as raw_error:
            return self.handle_field_error(located_error(raw_error, field_nodes, path.as_list()), return_type)

    def complete_list_value(self, return_type, field_nodes, info, path, result):
        if not is_iterable(result):
            raise GraphQLError(
                f"Expected Iterable, but did not find one for field '{info.parent_type.name}.{info.field_name}'."
            )
        item_type = return_type.of_type
        results: list[Any] = []
        for index, item in enumerate(result):
            item_path = path.add_key(index, None)
            try:
                if isinstance(item, Future) and not item.done():
                    completed = self._complete_later(item, item_type, field_nodes, info, item_path)
                else:
                    value = item.result() if isinstance(item, Future) else item
                    completed = self.complete_value(item_type, field_nodes, info, item_path, value)
                    if isinstance(completed, Future):
                        completed = self._settle_later(completed, item_type, field_nodes, item_path)
            except Exception as raw_error:
                error = located_error(raw_error, field_nodes, item_path.as_list())
                completed = self.handle_field_error(error, item_type)
            results.append(completed)
        return self._gather(results, range(len(results)))

    def _complete_later(self, pending: Future, return_type, field_nodes, info, path) -> Future:
        """The completed value of a field whose resolved value is still pending."""
        complete = partial(self.complete_value, return_type, field_nodes, info, path)
        return FieldSettlement(self, return_type, field_nodes, path, complete).follow(pending)

    def _settle_later(self, pending: Future, return_type, field_nodes, path) -> Future:
        """The final value of a field whose completed value is still pending."""
        return FieldSettlement(self, return_type, field_nodes, path).follow(pending)

    @staticmethod
    def _gather(container, keys) -> Any:
        """`container` (a dict or list) once every future in it is replaced by its
        value; a future of it if any is pending; fails as soon as one of them fails."""
        pending = [key for key in keys if isinstance(container[key], (Future, PendingLeaf))]
        if not pending:
            return container
        return Gathering(container, pending).future


# The two helpers below are small classes, not closures, on purpose: a closure
# that refers to itself (or to a future that refers back to it) is a reference
# cycle, and thousands of cycles per request made the garbage collector cost
# more than the rest of the request.


class FieldSettlement:
    """Settles one deferred field: completes its value once resolved, then applies
    the field's error handling (nullable: report and null; non-null: fail, which
    nulls the parent)."""

    __slots__ = ("context", "return_type", "field_nodes", "path", "complete", "future")

    def __init__(self, context, return_type, field_nodes, path, complete: Callable[[Any], Any] | None = None) -> None:
        self.context = context
        self.return_type = return_type
        self.field_nodes = field_nodes
        self.path = path
        self.complete = complete
        self.future = Future()

    def follow(self, pending: Future) -> Future:
        pending.when_done(partial(self._resolved, pending))
        return self.future

    def _resolved(self, source: Future) -> None:
        try:
            value = source.result()
            if self.complete is not None:
                complete, self.complete = self.complete, None
                value = complete(value)
        except Exception as raw_error:
            self._fail(raw_error)
            return
        if isinstance(value, Future):
            value.when_done(partial(self._resolved, value))
        else:
            self.future.set_result(value)

    def _fail(self, raw_error: Exception) -> None:
        error = located_error(raw_error, self.field_nodes, self.path.as_list())
        if is_non_null_type(self.return_type):
            self.future.set_exception(error)
        else:
            self.context.errors.append(error)
            self.future.set_result(None)


class Gathering:
    """Replaces each pending future in a dict or list by its value; `future` gets the
    container when all are in, or the first failure."""

    __slots__ = ("container", "remaining", "future")

    def __init__(self, container, pending_keys) -> None:
        self.container = container
        self.remaining = len(pending_keys)
        self.future = Future()
        for key in pending_keys:
            container[key].when_done(partial(self._collect, key))

    def _collect(self, key) -> None:
        if self.future.done():
            return
        try:
            self.container[key] = self.container[key].result()
        except Exception as error:
            self.future.set_exception(error)
            return
        self.remaining -= 1
        if not self.remaining:
            self.future.set_result(self.container)
