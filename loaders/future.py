"""The value of a DataLoader key that may not be loaded yet.

A deliberately small synchronous future: tens of thousands are made for a big
answer, so it has slots and no state checks beyond what callers rely on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Future(Generic[T]):
    __slots__ = ("_done", "_value", "_error", "_callbacks")

    def __init__(self) -> None:
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[], None]] | None = None

    @classmethod
    def resolved(cls, value: T) -> Future[T]:
        future = cls()
        future._done = True
        future._value = value
        return future

    @classmethod
    def failed(cls, error: BaseException) -> Future[Any]:
        future = cls()
        future._done = True
        future._error = error
        return future

    def done(self) -> bool:
        return self._done

    def result(self) -> T:
        """The value, or raises the error; only once done."""
        if not self._done:
            raise RuntimeError("The future is still pending.")
        if self._error is not None:
            raise self._error
        return self._value

    def when_done(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the future is done (now, if it is)."""
        if self._done:
            callback()
        elif self._callbacks is None:
            self._callbacks = [callback]
        else:
            self._callbacks.append(callback)

    def set_result(self, value: T) -> None:
        self._value = value
        self._finish()

    def set_exception(self, error: BaseException) -> None:
        self._error = error
        self._finish()

    def _finish(self) -> None:
        if self._done:
            raise RuntimeError("The future is already done.")
        self._done = True
        callbacks, self._callbacks = self._callbacks, None
        if callbacks:
            for callback in callbacks:
                callback()
