"""Faults injected into the loaders for the differential tests, the same on both paths: a
batch that raises, a batch that fails one key, and a batch whose rows carry a null where
the schema promises a value (a non-null column read as null).

A fault patches `batch_load` of one loader class, found by name among the subclasses of
`loaders.base.DataLoader` (and of every subclass of it that defines its own), for the
duration of one side's run, and counts on each side how often it fired, so a test can check
that the reference path met it at all.

`with_null` nulls an attribute on whatever a loader returns, whatever its shape: model
instances and other objects with a `__dict__` or slots (copied, never changed in place: a
loader may have primed another loader with the same object), rows with named fields
(`_replace`), dicts, frozen dataclasses (`dataclasses.replace`), lists and tuples of them,
and pages (`Page.edges[*].node`) or change sets (`ChangeSet.events`) holding them. A row
that is a plain tuple has no names: its columns are left alone.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import importlib
import pkgutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import loaders
from loaders.base import DataLoader

# Attributes that hold what a loader's value is made of (a Page's edges, an edge's node, a
# change set's events), walked when the value itself lacks the attribute to null.
CONTAINERS = ("edges", "events")


def loader_class(name: str) -> type[DataLoader]:
    """The loader class called `name`, wherever in loaders/ it is defined."""
    for module in pkgutil.iter_modules(loaders.__path__):
        importlib.import_module(f"loaders.{module.name}")
    found = [cls for cls in _subclasses(DataLoader) if cls.__name__ == name]
    if len(found) != 1:
        raise LookupError(f"{len(found)} loader classes named {name}: {found}")
    return found[0]


def _subclasses(cls: type) -> list[type]:
    every = []
    for subclass in cls.__subclasses__():
        every.extend([subclass, *_subclasses(subclass)])
    return every


class Fault:
    """One fault in one loader's batches. Subclasses say what happens to a batch."""

    loader: str

    def __init__(self, loader: str) -> None:
        self.loader = loader
        self.hits = {"reference": 0, "compiled": 0}
        self._side = "reference"

    def __repr__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        raise NotImplementedError

    def batch(self, original: Callable[[Any, Sequence], Sequence], loader: Any, keys: Sequence) -> Sequence:
        raise NotImplementedError

    def hit(self, times: int = 1) -> None:
        self.hits[self._side] += times

    @contextmanager
    def installed(self, side: str) -> Iterator[Fault]:
        """The fault in place for one side's run."""
        self._side = side
        self.hits[side] = 0
        target = loader_class(self.loader)
        patched = [target, *(cls for cls in _subclasses(target) if "batch_load" in cls.__dict__)]
        originals = {cls: cls.__dict__.get("batch_load") for cls in patched}
        for cls in patched:
            original = cls.batch_load  # the class's own, or the one it inherits

            def batch_load(loader, keys, _original=original):
                return self.batch(_original, loader, keys)

            cls.batch_load = batch_load
        try:
            yield self
        finally:
            for cls, original in originals.items():
                if original is None:
                    del cls.batch_load
                else:
                    cls.batch_load = original

    def note(self) -> str:
        return (
            f"injected: {self.describe()}; it fired {self.hits['reference']} times on the reference path "
            f"and {self.hits['compiled']} on the compiled path"
        )


class RaisingBatch(Fault):
    """Every batch of the loader raises, before any SQL."""

    def __init__(self, loader: str, error: Callable[[], Exception]) -> None:
        super().__init__(loader)
        self.error = error

    def describe(self) -> str:
        return f"{self.loader}.batch_load raises {self.error()!r}"

    def batch(self, original, loader, keys):
        self.hit()
        raise self.error()


class FailingKey(Fault):
    """Each batch of the loader answers an error for its first key (a loader's value that is
    an Exception is that key's error), and its values for the others."""

    def __init__(self, loader: str, error: Callable[[], Exception]) -> None:
        super().__init__(loader)
        self.error = error

    def describe(self) -> str:
        return f"{self.loader}.batch_load answers {self.error()!r} for the first key of each batch"

    def batch(self, original, loader, keys):
        values = list(original(loader, keys))
        if values:
            self.hit()
            values[0] = self.error()
        return values


class NullColumn(Fault):
    """The loader's values come back with `attribute` set to None in every row (or, when
    `attribute` is None, with every value None)."""

    def __init__(self, loader: str, attribute: str | None) -> None:
        super().__init__(loader)
        self.attribute = attribute

    def describe(self) -> str:
        what = f"`{self.attribute}` of every row" if self.attribute else "every value"
        return f"{self.loader}.batch_load answers null for {what}"

    def batch(self, original, loader, keys):
        values = original(loader, keys)
        nulled = [0]
        changed = [with_null(value, self.attribute, nulled) for value in values]
        self.hit(nulled[0])
        return changed


_SCALARS = (str, bytes, int, float, bool, dt.date, dt.datetime)


def with_null(value: Any, attribute: str | None, nulled: list[int] | None = None) -> Any:
    """`value` with `attribute` set to None wherever it holds it (see the module docstring);
    `attribute` None: the value itself is None. `nulled[0]` counts the rows changed."""
    nulled = nulled if nulled is not None else [0]
    if attribute is None:
        if value is not None:
            nulled[0] += 1
        return None
    if value is None or isinstance(value, (*_SCALARS, Exception)):
        return value
    if isinstance(value, list):
        return [with_null(item, attribute, nulled) for item in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(with_null(item, attribute, nulled) for item in value)
    if _holds(value, attribute):
        nulled[0] += 1
        return replaced(value, attribute, None)
    for container in CONTAINERS:
        if _holds(value, container) and isinstance(_get(value, container), list | tuple):
            value = replaced(value, container, with_null(_get(value, container), attribute, nulled))
    if _holds(value, "node"):  # a page's edge
        value = replaced(value, "node", with_null(_get(value, "node"), attribute, nulled))
    return value


def _holds(value: Any, name: str) -> bool:
    """Whether `value` has `name` as data of its own: a field of a row or a dict, an entry of
    its `__dict__` or a slot (not a method, nor a descriptor such as a related manager)."""
    if hasattr(value, "_fields"):
        return name in value._fields
    if isinstance(value, dict):
        return name in value
    if name in getattr(value, "__dict__", {}):
        return True
    return any(name in getattr(cls, "__slots__", ()) for cls in type(value).__mro__) and hasattr(value, name)


def _get(value: Any, name: str) -> Any:
    return value[name] if isinstance(value, dict) else getattr(value, name)


def replaced(value: Any, name: str, new: Any) -> Any:
    """A copy of `value` with `name` set to `new`."""
    if hasattr(value, "_replace") and hasattr(value, "_fields"):
        return value._replace(**{name: new})
    if isinstance(value, dict):
        return {**value, name: new}
    if dataclasses.is_dataclass(value) and any(f.name == name and f.init for f in dataclasses.fields(value)):
        return dataclasses.replace(value, **{name: new})
    clone = copy.copy(value)
    object.__setattr__(clone, name, new)
    return clone
