"""A synchronous DataLoader that really batches under graphene 3.

graphene 3 executes synchronously, so `promise`'s loader resolves every key on
its own (measured: 30 users with their events, 31 queries). Here `load()`
returns a pending `Future`; the loader is queued on the request's
`LoaderRegistry`, and `schema.graphql_core_path.CalendarExecutionContext` dispatches
queued loaders only once it has walked every field it can reach, so one level's
keys all arrive in one batch (the same 30 users: 2 queries).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from functools import partial
from typing import Any, Generic, Self, TypeVar

from config import metrics, tracing
from config.deadline import Deadline, DeadlineExceeded

from .future import Future

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
AnyLoader = TypeVar("AnyLoader", bound="DataLoader[Any, Any]")


class LoaderRegistry:
    """The loaders of one request, and the queue of those with keys to dispatch.

    `schedule` and `prime` say when queued keys are loaded and whether primed values are
    kept; the benchmarks' naive baseline (bench/naive.py) overrides them to load every key
    asked with `load` at once, alone, and keep nothing primed.
    """

    def __init__(self, context: Any) -> None:
        self.context = context
        self._instances: dict[type[DataLoader[Any, Any]], DataLoader[Any, Any]] = {}
        self._pending: deque[DataLoader[Any, Any]] = deque()

    def get(self, loader_class: type[AnyLoader]) -> AnyLoader:
        loader = self._instances.get(loader_class)
        if loader is None:
            loader = self._instances[loader_class] = object.__new__(loader_class)
            loader._setup(self.context, self)
        return loader  # type: ignore[return-value]  # stored under its own class, so of that class

    def schedule(self, loader: DataLoader[Any, Any]) -> None:
        """`loader` has keys queued since its last dispatch: it waits for its turn."""
        self._pending.append(loader)

    def prime(self, loader: DataLoader[K, V], key: K, value: V) -> None:
        """Keep `value`, which another query already fetched, as `loader`'s for `key`, unless it
        has that key already or is loading it."""
        if key not in loader._outcomes and key not in loader._queue:
            loader._outcomes[key] = value

    def has_pending(self) -> bool:
        return bool(self._pending)

    def dispatch_next(self) -> None:
        self._pending.popleft().dispatch()

    def dispatch_all(self, deadline: Deadline | None = None) -> None:
        """Dispatch the queued loaders, and those their batches queue, until none is left.
        Once `deadline` has passed, what is still queued fails with DeadlineExceeded instead."""
        while self._pending:
            if deadline is not None and deadline.expired():
                self.fail_pending(DeadlineExceeded(deadline))
            else:
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


class DataLoader(Generic[K, V]):
    """Base class: subclasses implement `batch_load(keys) -> values in key order`.

    `K` is the key's type, `V` the value's: `class UserByIdLoader(DataLoader[int, Row | None])`.

    `SomeLoader(info.context)` returns the request's one instance of the loader,
    so every resolver that asks for it shares its batch and its cache.
    A value that is an Exception becomes that key's error.
    """

    context: Any
    registry: LoaderRegistry

    def __new__(cls, context: Any) -> Self:
        return context.loaders.get(cls)

    def __init__(self, context: Any) -> None:
        """Set up once by the registry; `__new__` returns the shared instance."""

    def _setup(self, context: Any, registry: LoaderRegistry) -> None:
        self.context = context
        self.registry = registry
        # Each loaded key's value, or its error as an Exception; and the keys still to load,
        # each with the future graphql-core's path waits on.
        self._outcomes: dict[K, V | Exception] = {}
        self._queue: dict[K, Future[V]] = {}

    @property
    def viewer(self):
        return self.context.viewer

    def batch_load(self, keys: Sequence[K]) -> Sequence[V | Exception]:
        raise NotImplementedError

    def load(self, key: K) -> Future[V]:
        """The key's future: settled if the key is loaded, else pending until this loader's
        batch is dispatched."""
        outcome = self._outcomes.get(key, _MISSING)
        if outcome is not _MISSING:
            return Future.failed(outcome) if isinstance(outcome, Exception) else Future.resolved(outcome)
        future = self._queue.get(key)
        if future is None:
            future = self._queue[key] = Future()
            if len(self._queue) == 1:
                self.registry.schedule(self)
        return future

    def values(self, keys: Sequence[K]) -> list[V | Exception]:
        """Each key's value, or its error as an Exception, the missing ones loaded now in one
        batch (with any keys already queued): for a caller that has all its keys at once, a
        compiled plan's level or another loader's batch. No future is made."""
        outcomes = self._outcomes
        missing = [key for key in dict.fromkeys(keys) if key not in outcomes and key not in self._queue]
        if missing or self._queue:
            self.dispatch(missing)
        return [outcomes[key] for key in keys]

    def fail(self, error: Exception) -> None:
        """Fail the queued keys with `error`, without loading them."""
        queue, self._queue = self._queue, {}
        self._settle(queue, dict.fromkeys(queue, error))

    def prime(self, key: K, value: V) -> None:
        """Cache a value another query already fetched, so nobody fetches it again."""
        self.registry.prime(self, key, value)

    def dispatch(self, extra_keys: Sequence[K] = ()) -> None:
        """Load the queued keys (and `extra_keys`, which have no future) in one batch."""
        queue, self._queue = self._queue, {}
        keys = [*queue, *extra_keys]
        if not keys:
            return
        metrics.loader_batch(type(self), len(keys))
        try:
            values = self.batch_load(keys) if tracing.tracer is None else tracing.traced_batch(self, keys)
            if len(values) != len(keys):
                raise RuntimeError(f"{type(self).__name__} returned {len(values)} values for {len(keys)} keys")
        except Exception as error:
            values = [error] * len(keys)
        self._settle(queue, dict(zip(keys, values, strict=True)))

    def _settle(self, queue: dict[K, Future[V]], outcomes: dict[K, V | Exception]) -> None:
        # Errors stay cached too: a field that meets one again (graphql-core's path rerunning
        # what a plan could not finish) gets it at once, never a new load nothing would dispatch.
        self._outcomes.update(outcomes)
        for key, future in queue.items():
            outcome = outcomes[key]
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


_MISSING: Any = object()


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
        self.callback: Callable[[Any], Any] | None = callback  # None once called
        self.future: Future[Any] = Future()

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
