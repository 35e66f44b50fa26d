"""A synchronous DataLoader that really batches under graphene 3.

graphene 3 executes synchronously, so `promise`'s loader resolves every key on
its own (measured: 30 users with their events, 31 queries). Here `load()`
returns a pending `Future`; the loader is queued on the request's
`LoaderRegistry`, and `schema.executor.CalendarExecutionContext` dispatches
queued loaders only once it has walked every field it can reach, so one level's
keys all arrive in one batch (the same 30 users: 2 queries).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from functools import partial
from typing import Any, ClassVar

from .future import Future


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

    def fail_pending(self, error: Exception) -> None:
        """Fail every queued key with `error` instead of loading it (the request's deadline
        has passed): the fields waiting on them get the error, as from a failed batch."""
        while self._pending:
            self._pending.popleft().fail(error)

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
        self._cache: dict[Hashable, Future] = {}
        self._queue: list[tuple[Hashable, Future]] = []

    @property
    def viewer(self):
        return self.context.viewer

    def batch_load(self, keys: Sequence[Hashable]) -> Sequence[Any]:
        raise NotImplementedError

    def load(self, key: Hashable) -> Future:
        future = self._cache.get(key)
        if future is None:
            future = self._cache[key] = Future()
            if not self._queue and self.registry.batching:
                self.registry.schedule(self)
            self._queue.append((key, future))
            if not self.registry.batching:
                self.dispatch()
        return future

    def values(self, keys: Sequence[Hashable]) -> list[Any]:
        """Each key's value, or its error as an Exception, the missing ones loaded now in one
        batch (with any keys already queued): for a caller that has all its keys at once, a
        compiled plan's level or another loader's batch."""
        for key in keys:
            self.load(key)
        self.dispatch()
        cache = self._cache
        return [cache[key].outcome() for key in keys]

    def fail(self, error: Exception) -> None:
        """Fail the queued keys with `error`, without loading them."""
        queue, self._queue = self._queue, []
        self._fail(queue, error)

    @staticmethod
    def _fail(queue: list[tuple[Hashable, Future]], error: Exception) -> None:
        # The failed futures stay cached: a field that meets the error again (the executor's
        # fast path reruns a failed field) gets it at once, never a new load that nothing
        # would dispatch.
        for _, future in queue:
            future.set_exception(error)

    def prime(self, key: Hashable, value: Any) -> None:
        """Cache a value another query already fetched, so nobody fetches it again."""
        if key not in self._cache and self.registry.batching:
            self._cache[key] = Future.resolved(value)

    def dispatch(self) -> None:
        queue, self._queue = self._queue, []
        if not queue:
            return
        try:
            values = self.batch_load([key for key, _ in queue])
            if len(values) != len(queue):
                raise RuntimeError(f"{type(self).__name__} returned {len(values)} values for {len(queue)} keys")
        except Exception as error:
            self._fail(queue, error)
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
    if not isinstance(value, Future):
        return callback(value)
    if value.done():
        return callback(value.result())
    return _Chain(callback).follow(value)


class _Chain:
    """The future of `callback(value)` once `value` is in (a class, not a closure,
    so that no reference cycle outlives it)."""

    __slots__ = ("callback", "future")

    def __init__(self, callback: Callable[[Any], Any]) -> None:
        self.callback = callback
        self.future = Future()

    def follow(self, source: Future) -> Future:
        source.when_done(partial(self._resolved, source))
        return self.future

    def _resolved(self, source: Future) -> None:
        try:
            result = source.result()
            if self.callback is not None:
                callback, self.callback = self.callback, None
                result = callback(result)
        except Exception as error:
            self.future.set_exception(error)
            return
        if not isinstance(result, Future):
            self.future.set_result(result)
        elif result.done():
            self._resolved(result)
        else:
            result.when_done(partial(self._resolved, result))


def group_by_arguments(keys: Sequence[tuple]) -> dict[tuple, list]:
    """Keys are (parent_id, *arguments): parents asked with the same arguments share a query."""
    groups: dict[tuple, list] = {}
    for parent_id, *arguments in keys:
        groups.setdefault(tuple(arguments), []).append(parent_id)
    return groups
