"""A synchronous DataLoader that really batches under graphene 3.

graphene 3 executes synchronously, so `promise`'s loader resolves every key on
its own. Here `load()` returns a pending `SyncFuture` (graphql-sync-dataloaders'
future, understood by its DeferredExecutionContext); the loader is queued on the
request's `LoaderRegistry`, and `schema.execution.CalendarExecutionContext`
dispatches queued loaders only once the executor has walked every field it can
reach, so one level's keys all arrive in one batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any, ClassVar

from graphql_sync_dataloaders import SyncFuture


class LoaderRegistry:
    """The loaders of one request, and the queue of those with keys to dispatch.

    With `batching` off, every load runs its own query at once and nothing is
    primed: the naive server the benchmarks compare against (one query per
    friend and per event), never used to serve requests.
    """

    def __init__(self, context: Any, batching: bool = True) -> None:
        self.context = context
        self.batching = batching
        self._instances: dict[type[DataLoader], DataLoader] = {}
        self._pending: deque[DataLoader] = deque()

    def get(self, loader_class: type[DataLoader]) -> DataLoader:
        loader = self._instances.get(loader_class)
        if loader is None:
            loader = self._instances[loader_class] = object.__new__(loader_class)
            loader._setup(self.context, self)
        return loader

    def schedule(self, loader: DataLoader) -> None:
        self._pending.append(loader)

    def has_pending(self) -> bool:
        return bool(self._pending)

    def dispatch_next(self) -> None:
        self._pending.popleft().dispatch()

    def dispatch_all(self) -> None:
        while self._pending:
            self.dispatch_next()

    def clear(self) -> None:
        """Forget every cached value, e.g. after a mutation has written."""
        self.dispatch_all()
        self._instances.clear()


class DataLoader:
    """Base class: subclasses implement `batch_load(keys) -> values in key order`.

    `SomeLoader(info.context)` returns the request's one instance of the loader,
    so every resolver that asks for it shares its batch and its cache.
    A value that is an Exception becomes that key's error.
    """

    context: Any
    registry: LoaderRegistry
    registry_attribute: ClassVar[str] = "loaders"

    def __new__(cls, context: Any) -> DataLoader:
        return getattr(context, cls.registry_attribute).get(cls)

    def __init__(self, context: Any) -> None:
        """Set up once by the registry; `__new__` returns the shared instance."""

    def _setup(self, context: Any, registry: LoaderRegistry) -> None:
        self.context = context
        self.registry = registry
        self._cache: dict[Hashable, SyncFuture] = {}
        self._queue: list[tuple[Hashable, SyncFuture]] = []

    @property
    def viewer(self):
        return self.context.viewer

    def batch_load(self, keys: Sequence[Hashable]) -> Sequence[Any]:
        raise NotImplementedError

    def load(self, key: Hashable) -> SyncFuture:
        future = self._cache.get(key)
        if future is None:
            future = self._cache[key] = SyncFuture()
            if not self._queue and self.registry.batching:
                self.registry.schedule(self)
            self._queue.append((key, future))
            if not self.registry.batching:
                self.dispatch()
        return future

    def prime(self, key: Hashable, value: Any) -> None:
        """Cache a value another query already fetched, so nobody fetches it again."""
        if key not in self._cache and self.registry.batching:
            future = SyncFuture()
            future.set_result(value)
            self._cache[key] = future

    def dispatch(self) -> None:
        queue, self._queue = self._queue, []
        if not queue:
            return
        try:
            values = self.batch_load([key for key, _ in queue])
            if len(values) != len(queue):
                raise RuntimeError(f"{type(self).__name__} returned {len(values)} values for {len(queue)} keys")
        except Exception as error:
            for key, future in queue:
                self._cache.pop(key, None)
                future.set_exception(error)
            return
        for (_, future), value in zip(queue, values, strict=True):
            if isinstance(value, Exception):
                future.set_exception(value)
            else:
                future.set_result(value)


def then(value: Any, callback: Callable[[Any], Any]) -> Any:
    """Apply `callback` to a value that may still be a pending future.

    The callback may itself return a future (another loader's), which is chained.
    """
    if not isinstance(value, SyncFuture):
        return callback(value)
    if value.done():
        return callback(value.result())
    chained = SyncFuture()

    def settle(source: SyncFuture, transform: Callable[[Any], Any] | None) -> None:
        try:
            result = source.result()
            if transform is not None:
                result = transform(result)
        except Exception as error:
            chained.set_exception(error)
            return
        if isinstance(result, SyncFuture):
            if result.done():
                settle(result, None)
            else:
                result.add_done_callback(lambda: settle(result, None))
        else:
            chained.set_result(result)

    value.add_done_callback(lambda: settle(value, callback))
    return chained


def group_by_arguments(keys: Sequence[tuple]) -> dict[tuple, list]:
    """Keys are (parent_id, *arguments): parents asked with the same arguments share a query."""
    groups: dict[tuple, list] = {}
    for parent_id, *arguments in keys:
        groups.setdefault(tuple(arguments), []).append(parent_id)
    return groups
