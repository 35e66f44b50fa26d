"""graphql-core's synchronous executor, taught to wait for DataLoader futures.

A resolver may return a pending `SyncFuture` (from `loaders.base.DataLoader.load`).
The executor keeps walking every other field it can reach, so all the keys of a
level are queued before any loader runs; `_drain` then dispatches the queued
loaders one batch at a time, and each batch resolves the next level.

Errors follow the GraphQL spec for deferred values too: a failed nullable field
becomes null with its error reported; a failed non-null field nulls its parent,
up to the nearest nullable ancestor (a failed future carries that propagation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from graphql import GraphQLError, GraphQLOutputType, is_non_null_type, located_error
from graphql.execution import ExecutionContext
from graphql.execution.execute import get_field_def
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined, is_iterable
from graphql_sync_dataloaders import SyncFuture


def when_done(future: SyncFuture, callback: Callable[[], None]) -> None:
    if future.done():
        callback()
    else:
        future.add_done_callback(callback)


class CalendarExecutionContext(ExecutionContext):
    """Root mutation fields run one at a time, each finished (loaders included)
    before the next starts, as the spec requires, and each with its payload in one
    transaction: if anything in it fails, nothing it wrote stays, so a client that
    sees an error can safely retry."""

    def execute_operation(self, operation, root_value):
        result = super().execute_operation(operation, root_value)
        self._drain()
        return result.result() if isinstance(result, SyncFuture) else result

    def _drain(self) -> None:
        loaders = self.context_value.loaders
        while loaders.has_pending():
            loaders.dispatch_next()

    def execute_fields_serially(self, parent_type, source_value, path, fields):
        results: dict[str, Any] = {}
        for response_name, field_nodes in fields.items():
            errors_before = len(self.errors)
            with transaction.atomic():
                result = self.execute_fields(parent_type, source_value, path, {response_name: field_nodes})
                self._drain()
                if len(self.errors) > errors_before:
                    transaction.set_rollback(True)
                    self.context_value.loaders.clear()
            results.update(result.result() if isinstance(result, SyncFuture) else result)
        return results

    def execute_fields(self, parent_type, source_value, path, fields):
        results: dict[str, Any] = {}
        for response_name, field_nodes in fields.items():
            result = self.execute_field(
                parent_type, source_value, field_nodes, Path(path, response_name, parent_type.name)
            )
            if result is not Undefined:
                results[response_name] = result
        return self._gather(results, results.keys())

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
            if isinstance(result, SyncFuture):
                if not result.done():
                    return self._complete_later(result, return_type, field_nodes, info, path)
                result = result.result()
            completed = self.complete_value(return_type, field_nodes, info, path, result)
            if isinstance(completed, SyncFuture):
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
                if isinstance(item, SyncFuture) and not item.done():
                    completed = self._complete_later(item, item_type, field_nodes, info, item_path)
                else:
                    value = item.result() if isinstance(item, SyncFuture) else item
                    completed = self.complete_value(item_type, field_nodes, info, item_path, value)
                    if isinstance(completed, SyncFuture):
                        completed = self._settle_later(completed, item_type, field_nodes, item_path)
            except Exception as raw_error:
                error = located_error(raw_error, field_nodes, item_path.as_list())
                completed = self.handle_field_error(error, item_type)
            results.append(completed)
        return self._gather(results, range(len(results)))

    def _complete_later(self, pending: SyncFuture, return_type, field_nodes, info, path) -> SyncFuture:
        """The completed value of a field whose resolved value is still pending."""

        def complete() -> Any:
            return self.complete_value(return_type, field_nodes, info, path, pending.result())

        return self._settle_later(pending, return_type, field_nodes, path, complete)

    def _settle_later(
        self,
        pending: SyncFuture,
        return_type: GraphQLOutputType,
        field_nodes,
        path: Path,
        complete: Callable[[], Any] | None = None,
    ) -> SyncFuture:
        """A future of a field's final value, with the field's error handling applied:
        an error on a nullable field is reported and the field is null; on a non-null
        field the future fails, which nulls the parent."""
        settled = SyncFuture()

        def settle(source: SyncFuture, then_complete: Callable[[], Any] | None) -> None:
            try:
                value = then_complete() if then_complete else source.result()
                if isinstance(value, SyncFuture):
                    when_done(value, lambda: settle(value, None))
                    return
                settled.set_result(value)
            except Exception as raw_error:
                error = located_error(raw_error, field_nodes, path.as_list())
                if is_non_null_type(return_type):
                    settled.set_exception(error)
                else:
                    self.errors.append(error)
                    settled.set_result(None)

        when_done(pending, lambda: settle(pending, complete))
        return settled

    @staticmethod
    def _gather(container, keys) -> Any:
        """`container` (a dict or list) once every future in it is replaced by its
        value; a future of it if any is pending; fails as soon as one of them fails."""
        pending = [key for key in keys if isinstance(container[key], SyncFuture)]
        if not pending:
            return container
        gathered = SyncFuture()
        remaining = len(pending)

        def collect(key) -> None:
            nonlocal remaining
            if gathered.done():
                return
            try:
                container[key] = container[key].result()
            except Exception as error:
                gathered.set_exception(error)
                return
            remaining -= 1
            if not remaining:
                gathered.set_result(container)

        for key in pending:
            future = container[key]
            when_done(future, lambda key=key: collect(key))
        return gathered
