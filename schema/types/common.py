"""Helpers the object types share, and the declarations compiled plans read (schema/plans).

A resolver made by `batched` or `related` says what it does in data, not only in code: its
value is a loader's value for a key made of its parent's attribute and its arguments.
graphql-core's path calls the resolver; a compiled plan reads the declaration
(`resolver.batched`) and asks the loader for every parent of a level at once, with no call
per parent."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, ClassVar

import graphene_django_optimizer as gql_optimizer

from loaders.base import DataLoader

from ..context import logged_in_viewer

# A field computed by a loader reads only its parent's primary key: the optimizer
# keeps root querysets narrow when every such field says so.
needs_only_pk = gql_optimizer.resolver_hints(only=("id",))


@dataclass(frozen=True, slots=True)
class Batched:
    """A field whose value is `loader`'s value for its key.

    The key is the parent's `parent_key` attribute followed by the tuple
    `arguments(context, **field_arguments)` when the field takes arguments; for a root field
    (`parent_key` None) it is whatever `arguments` returns. `arguments` depends on no parent
    (a plan works it out once per field and level) and touches no database; what it raises
    (bad input) is the field's error, as is UNAUTHENTICATED for an anonymous viewer when
    `login_required`."""

    loader: type[DataLoader] | None  # None: `locate` chooses one per parent
    parent_key: str | None = "pk"
    arguments: Callable[..., Any] | None = None
    login_required: bool = True

    def arguments_of(self, context: Any, field_arguments: dict[str, Any]) -> Any:
        if self.login_required:
            logged_in_viewer(context)
        return self.arguments(context, **field_arguments) if self.arguments is not None else ()

    # Whether every parent's value comes from `loader` (`keys_of` applies), not one by one.
    one_loader: ClassVar[bool] = True

    def keys_of(self, parents: list[Any], arguments: Any) -> list[Hashable]:
        """`loader`'s key for each parent (for a class with `one_loader`)."""
        if self.parent_key is None:
            return [arguments] * len(parents)
        parent_value = attrgetter(self.parent_key)
        if self.arguments is None:
            return [parent_value(parent) for parent in parents]
        return [(parent_value(parent), *arguments) for parent in parents]

    def locate(self, parent: Any, arguments: Any) -> tuple[type[DataLoader], Hashable] | None:
        """The loader and key of this parent's value (None: the value is null, nothing to load)."""
        loader = self.loader
        assert loader is not None  # a declaration that names no loader has its own `locate`
        if self.parent_key is None:
            return loader, arguments
        parent_value = getattr(parent, self.parent_key)
        return loader, ((parent_value, *arguments) if self.arguments is not None else parent_value)

    def load(self, parent: Any, info, **field_arguments) -> Any:
        """graphql-core's path: the loader's future for this parent's key."""
        located = self.locate(parent, self.arguments_of(info.context, field_arguments))
        if located is None:
            return None
        loader, key = located
        return loader(info.context).load(key)


def batched(
    loader: type[DataLoader], parent_key: str | None = "pk", arguments: Callable[..., Any] | None = None
) -> Callable[..., Any]:
    """The resolver of a `Batched` field (logged-in viewers only), carrying its declaration."""
    return batched_by(Batched(loader, parent_key, arguments))


def batched_by(declaration: Batched) -> Callable[..., Any]:
    """The resolver of a field `declaration` describes, carrying it as `resolve.batched`."""

    @needs_only_pk
    def resolve(root: Any, info, **field_arguments) -> Any:
        return declaration.load(root, info, **field_arguments)

    resolve.batched = declaration
    return resolve


def related(relation: str, loader: type[DataLoader]) -> Callable[..., Any]:
    """The resolver of a foreign key's object: the related object if the optimizer already
    joined it (select_related), else `loader`'s batch by the foreign key's column."""
    column = f"{relation}_id"

    @gql_optimizer.resolver_hints(select_related=(relation,), only=(column,))
    def resolve(root: Any, info) -> Any:
        state = getattr(root, "_state", None)  # a model instance's, not a row's
        cached = state.fields_cache.get(relation) if state is not None else None
        if cached is not None:
            return cached
        return loader(info.context).load(getattr(root, column))

    resolve.batched = Batched(loader, column, login_required=False)
    return resolve


def context_only(resolver: Callable[..., Any]) -> Callable[..., Any]:
    """Marks a resolver that reads nothing of `info` but `info.context` and touches no
    database: a compiled plan may call it with a stand-in for `info`."""
    resolver.context_only = True  # type: ignore[attr-defined]  # a mark on the function, read by plans
    return resolver
