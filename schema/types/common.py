"""Helpers the object types share."""

from __future__ import annotations

from typing import Any

from loaders.base import DataLoader


def related_or_load(root: Any, relation: str, loader_class: type[DataLoader], info) -> Any:
    """The related object if the optimizer already joined it (select_related), else its loader's batch."""
    cached = root._state.fields_cache.get(relation)
    if cached is not None:
        return cached
    return loader_class(info.context).load(getattr(root, f"{relation}_id"))
