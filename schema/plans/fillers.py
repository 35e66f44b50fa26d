"""A selection's plain fields filled by one generated function, for every parent at once.

Most of a large answer is leaves read straight from a row: `title`, `startsAt`, an `id`.
For each selection the compiler generates (once, with the plan) a Python function whose loop
body reads those attributes and writes the answer's dict for one parent, inline: no call, no
dispatch on the field's kind or type per value. It also writes a placeholder for every other
field, so that the answer keeps the selection's order when the runner fills them in.

A value the function does not expect — a null in a non-null field, a serializer that
refuses it, a parent without the attribute — raises, and the run falls back to graphql-core's
path (schema/plans/runner.py), which reports it exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLBoolean, GraphQLEnumType, GraphQLID, GraphQLInt, GraphQLString
from graphql.pyutils import Undefined

from calendarapp.ids import global_id

from ..scalars import DateTime
from .plan import ATTRIBUTE, GLOBAL_ID, TYPENAME, FallBack, FieldPlan

# graphql-core's own serializers return these values unchanged; anything else goes through them.
_PASSED_AS_IS: dict[Callable[[Any], Any] | None, str] = {
    GraphQLString.serialize: "{v}.__class__ is str",
    GraphQLID.serialize: "{v}.__class__ is str",
    GraphQLBoolean.serialize: "{v}.__class__ is bool",
    GraphQLInt.serialize: "{v}.__class__ is int and -2147483648 <= {v} <= 2147483647",
}


def is_filled(field: FieldPlan) -> bool:
    """Whether the generated function writes this field's final value."""
    if field.source in (GLOBAL_ID, TYPENAME):
        return True
    return (
        field.source == ATTRIBUTE
        and field.serialize is not None
        and not field.is_list
        and not field.calls_methods
        and field.attname.isidentifier()
    )


def make_filler(fields: list[FieldPlan]) -> Callable[[list[Any], list[dict], dict], None]:
    """The generated function `fill(parents, outs, ids)` of a selection's fields (`ids`: the
    run's IDs made so far, by type name and primary key)."""
    namespace: dict[str, Any] = {
        "FallBack": FallBack,
        "global_id": global_id,
        "serialized": serialized,
        "datetime": datetime,
        "UTC": UTC,
    }
    lines = ["def fill(parents, outs, ids):"]
    # The IDs already made in this run, by type (an event's owner is the same user many times).
    for index, field in enumerate(fields):
        if field.source == GLOBAL_ID:
            lines.append(f"    ids_{index} = ids.setdefault({field.type_name!r}, {{}})")
    lines.append("    for parent, out in zip(parents, outs):")
    for index, field in enumerate(fields):
        key = repr(field.response_key)
        if not is_filled(field):
            lines.append(f"        out[{key}] = None")
        elif field.source == TYPENAME:
            lines.append(f"        out[{key}] = {field.type_name!r}")
        elif field.source == GLOBAL_ID:
            lines.append("        pk = parent.pk")
            lines.append("        if pk is None: raise FallBack('an object without a primary key')")
            lines.append(f"        made = ids_{index}.get(pk)")
            lines.append(f"        if made is None: made = ids_{index}[pk] = global_id({field.type_name!r}, pk)")
            lines.append(f"        out[{key}] = made")
        else:
            serializer = f"serialize_{index}"
            namespace[serializer] = field.serialize
            converted = f"serialized({serializer}, value)"
            expression = _shortcut(field, index, namespace) or converted
            lines.append(f"        value = parent.{field.attname}")
            if field.non_null:
                lines.append(f"        if value is None: raise FallBack('null for ' + {key})")
                lines.append(f"        out[{key}] = {expression}")
            else:
                lines.append(f"        out[{key}] = None if value is None else ({expression})")
    if not fields:  # a possible type of an interface the selection asks nothing of
        lines.append("        pass")
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<plan filler>", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace["fill"]


def _shortcut(field: FieldPlan, index: int, namespace: dict[str, Any]) -> str | None:
    """An expression giving the serialized `value` without a call where the type allows."""
    converted = f"serialized(serialize_{index}, value)"
    passed = _PASSED_AS_IS.get(field.serialize)
    if passed is not None:
        return f"value if {passed.format(v='value')} else {converted}"
    if field.serialize is DateTime.serialize:
        # orjson writes a UTC datetime exactly as DateTime.serialize does (its isoformat); not
        # every offset (one of seconds), so only UTC, which is what the database gives.
        return f"value if value.__class__ is datetime and value.tzinfo is UTC else {converted}"
    if isinstance(field.leaf_type, GraphQLEnumType):
        namespace[f"names_{index}"] = _enum_names(field.leaf_type)
        return f"(names_{index}.get(value) if value.__class__ is str else None) or {converted}"
    return None


def _enum_names(enum_type: GraphQLEnumType) -> dict[str, str]:
    """What the enum's serializer answers for each string value it takes (asked once)."""
    raw_values = [value.value for value in enum_type.values.values()]
    graphene_enum = getattr(getattr(enum_type, "graphene_type", None), "_meta", None)
    if graphene_enum is not None:
        raw_values += [member.value for member in graphene_enum.enum]
    names = {}
    for raw in raw_values:
        if isinstance(raw, str):
            name = enum_type.serialize(raw)
            if isinstance(name, str) and name:
                names[raw] = name
    return names


def serialized(serialize: Callable[[Any], Any], value: Any) -> Any:
    """`value` as its leaf type writes it; FallBack where graphql-core would report an error."""
    try:
        result = serialize(value)
    except Exception as error:
        raise FallBack("serialize") from error
    if result is None or result is Undefined:
        raise FallBack("serialize")
    return result
