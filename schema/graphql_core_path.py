"""graphql-core's executor, taught to wait for DataLoader futures: the one module that uses
graphql-core's execution internals (`graphql.execution`), so that a new graphql-core (3.3
renames `ExecutionContext` to `Executor`) is a change here only. Other modules use what it
exports (`__all__`): `execute_reference` runs an operation, and `collect_fields`,
`collect_subfields`, `get_field_def`, `get_argument_values` and `get_variable_values` are
graphql-core's own field collection and value coercion, for code that walks a document as
execution does.

A resolver may return a pending `loaders.future.Future` (from `loaders.base.DataLoader.load`).
The executor keeps walking every other field it can reach, so all the keys of a
level are queued before any loader runs; `LoaderRegistry.dispatch_all` then dispatches the
queued loaders one batch at a time, and each batch resolves the next level.

Errors follow the GraphQL spec for deferred values too: a failed nullable field
becomes null with its error reported; a failed non-null field nulls its parent,
up to the nearest nullable ancestor (a failed future carries that propagation). A
deferred field's error is reported as its null is put in its parent, so a field whose
parent has already been nulled (by a non-null sibling that failed first) reports nothing,
as in graphql-core's own execution, which never runs the fields after such a sibling.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import transaction
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    is_non_null_type,
    located_error,
)
from graphql.execution import ExecutionContext, ExecutionResult, execute_sync
from graphql.execution.collect_fields import collect_fields, collect_sub_fields
from graphql.execution.execute import get_field_def
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.pyutils import Path, Undefined, is_iterable

from config.deadline import Deadline, DeadlineExceeded
from loaders.future import Future

from .schema import GRAPHQL_SCHEMA

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
    return execute_sync(
        GRAPHQL_SCHEMA,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        execution_context_class=CalendarExecutionContext,
        check_sync=True,  # as `execute` does: values are checked for awaitables (there are none)
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


class CalendarExecutionContext(ExecutionContext):
    """graphql-core's ExecutionContext and only what our loaders, mutations and deadline need:
    `execute_fields`, `execute_field` and `complete_list_value` accept pending futures (a field
    settled later by FieldSettlement, a container gathered by Gathering); `execute_operation`
    dispatches the loaders once every reachable field has queued its keys.

    Root mutation fields run one at a time, each finished (loaders included)
    before the next starts, as the spec requires, and each with its payload in one
    transaction: if anything in it fails, nothing it wrote stays, so a client that
    sees an error can safely retry.

    The request's deadline (config/deadline.py, `context.deadline`) is checked before
    each root mutation field and each loader batch: once it has passed, what has not
    started is answered with DeadlineExceeded instead (a field waiting on a loader gets
    it through the loader's future, so nulls propagate as for any other error)."""

    _deadline: Deadline | None = None

    def execute_operation(self, operation, root_value):
        self._deadline = getattr(self.context_value, "deadline", None)
        result = super().execute_operation(operation, root_value)
        self.context_value.loaders.dispatch_all(deadline=self._deadline)
        return result.result() if isinstance(result, Future) else result

    def build_response(self, data, errors):  # type: ignore[override]  # graphql-core's is static; it calls it on self
        if self._deadline is not None:
            self._deadline.cut("fields", sum(isinstance(error.original_error, DeadlineExceeded) for error in errors))
        return super().build_response(data, errors)

    def execute_fields_serially(self, parent_type, source_value, path, fields):
        results: dict[str, Any] = {}
        for response_name, field_nodes in fields.items():
            if self._deadline is not None and self._deadline.expired():
                results.update(self._cut_root_field(parent_type, field_nodes, path, response_name))
                continue
            errors_before = len(self.errors)
            with transaction.atomic():
                result = self.execute_fields(parent_type, source_value, path, {response_name: field_nodes})
                self.context_value.loaders.dispatch_all(deadline=self._deadline)
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
        assert self._deadline is not None  # it has passed
        field_path = Path(path, response_name, parent_type.name)
        error = located_error(DeadlineExceeded(self._deadline), field_nodes, field_path.as_list())
        return_type = parent_type.fields[field_nodes[0].name.value].type
        self.handle_field_error(error, return_type)
        return {response_name: None}

    def execute_fields(self, parent_type, source_value, path, fields):
        results: dict[str, Any] = {}
        pending = False
        for response_name, field_nodes in fields.items():
            field_path = Path(path, response_name, parent_type.name)
            result = self.execute_field(parent_type, source_value, field_nodes, field_path)
            if result is not Undefined:
                results[response_name] = result
                pending = pending or isinstance(result, Future)
        return self._gather(results, list(results)) if pending else results

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
        completed: Any
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
                self.handle_field_error(error, item_type)
                completed = None
            results.append(completed)
        return self._gather(results, range(len(results)))

    def _complete_later(self, pending: Future, return_type, field_nodes, info, path) -> Future:
        """The completed value of a field whose resolved value is still pending."""
        complete = partial(self.complete_value, return_type, field_nodes, info, path)
        return FieldSettlement(return_type, field_nodes, path, complete).follow(pending)

    def _settle_later(self, pending: Future, return_type, field_nodes, path) -> Future:
        """The final value of a field whose completed value is still pending."""
        return FieldSettlement(return_type, field_nodes, path).follow(pending)

    def _gather(self, container, keys) -> Any:
        """`container` (a dict or list) once every future in it is replaced by its
        value; a future of it if any is pending; fails as soon as one of them fails."""
        pending = [key for key in keys if isinstance(container[key], Future)]
        if not pending:
            return container
        return Gathering(container, pending, self.errors).future


# The two helpers below are small classes, not closures, on purpose: a closure
# that refers to itself (or to a future that refers back to it) is a reference
# cycle, and thousands of cycles per request made the garbage collector cost
# more than the rest of the request.


class FieldSettlement:
    """Settles one deferred field: completes its value once resolved, then applies
    the field's error handling (nullable: null, with its error to report; non-null:
    fail, which nulls the parent)."""

    __slots__ = ("return_type", "field_nodes", "path", "complete", "future")

    def __init__(self, return_type, field_nodes, path, complete: Callable[[Any], Any] | None = None) -> None:
        self.return_type = return_type
        self.field_nodes = field_nodes
        self.path = path
        self.complete = complete
        self.future = FieldFuture()

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
            self.future.error = error  # reported by the Gathering that puts the null in its parent
            self.future.set_result(None)


class FieldFuture(Future):
    """A deferred field's value; `error`, when it is null because the field failed."""

    __slots__ = ("error",)

    def __init__(self) -> None:
        super().__init__()
        self.error: GraphQLError | None = None


class Gathering:
    """Replaces each pending future in a dict or list by its value; `future` gets the
    container when all are in, or the first failure. A field's null that stands for its
    error adds the error to `errors` as it is put in, unless the container failed before."""

    __slots__ = ("container", "remaining", "errors", "future")

    def __init__(self, container, pending_keys, errors: list[GraphQLError]) -> None:
        self.container = container
        self.remaining = len(pending_keys)
        self.errors = errors
        self.future: Future[Any] = Future()
        for key in pending_keys:
            container[key].when_done(partial(self._collect, key))

    def _collect(self, key) -> None:
        if self.future.done():
            return
        pending = self.container[key]
        try:
            self.container[key] = pending.result()
        except Exception as error:
            self.future.set_exception(error)
            return
        if type(pending) is FieldFuture and pending.error is not None:
            self.errors.append(pending.error)
        self.remaining -= 1
        if not self.remaining:
            self.future.set_result(self.container)
