"""Helpers the object types share."""

from __future__ import annotations

from typing import Any

import graphene_django_optimizer as gql_optimizer

from loaders.base import DataLoader

from ..context import require_viewer

# A field computed by a loader reads only its parent's primary key: the optimizer
# keeps root querysets narrow when every such field says so.
needs_only_pk = gql_optimizer.resolver_hints(only=("id",))


def related_or_load(root: Any, relation: str, loader_class: type[DataLoader], info) -> Any:
    """The related object if the optimizer already joined it (select_related), else its loader's batch."""
    cached = root._state.fields_cache.get(relation)
    if cached is not None:
        return cached
    return loader_class(info.context).load(getattr(root, f"{relation}_id"))


def loader_field(loader_class: type[DataLoader], key: str = "pk"):
    """The resolver of a field whose value is `loader_class`'s value for the parent's
    `key`: logged-in viewers only, reading only the parent's primary key. The executor
    sees the declaration (`loaded_by`) and asks the loader without a resolver call."""

    @needs_only_pk
    def resolve(root: Any, info) -> Any:
        require_viewer(info)
        return loader_class(info.context).load(getattr(root, key))

    resolve.loaded_by = (loader_class, key)
    return resolve
