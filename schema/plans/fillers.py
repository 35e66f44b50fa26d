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
from typing import Any

from graphql import GraphQLBoolean, GraphQLID, GraphQLInt, GraphQLString
from graphql.pyutils import Undefined

from calendarapp.ids import global_id

from .plan import ATTRIBUTE, GLOBAL_ID, TYPENAME, FallBack, FieldPlan

# graphql-core's own serializers return these values unchanged; anything else goes through them.
_PASSED_AS_IS = {
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


def make_filler(fields: list[FieldPlan]) -> Callable[[list[Any], list[dict]], None]:
    """The generated function `fill(parents, outs)` of a selection's fields."""
    namespace: dict[str, Any] = {"FallBack": FallBack, "global_id": global_id, "serialized": serialized}
    lines = ["def fill(parents, outs):", "    for parent, out in zip(parents, outs):"]
    for index, field in enumerate(fields):
        key = repr(field.response_key)
        if not is_filled(field):
            lines.append(f"        out[{key}] = None")
        elif field.source == TYPENAME:
            lines.append(f"        out[{key}] = {field.type_name!r}")
        elif field.source == GLOBAL_ID:
            lines.append("        pk = parent.pk")
            lines.append("        if pk is None: raise FallBack('an object without a primary key')")
            lines.append(f"        out[{key}] = global_id({field.type_name!r}, pk)")
        else:
            serializer = f"serialize_{index}"
            namespace[serializer] = field.serialize
            passed = _PASSED_AS_IS.get(field.serialize)
            converted = f"serialized({serializer}, value)"
            expression = f"value if {passed.format(v='value')} else {converted}" if passed else converted
            lines.append(f"        value = parent.{field.attname}")
            if field.non_null:
                lines.append(f"        if value is None: raise FallBack('null for ' + {key})")
                lines.append(f"        out[{key}] = {expression}")
            else:
                lines.append(f"        out[{key}] = None if value is None else ({expression})")
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<plan filler>", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace["fill"]


def serialized(serialize: Callable[[Any], Any], value: Any) -> Any:
    """`value` as its leaf type writes it; FallBack where graphql-core would report an error."""
    try:
        result = serialize(value)
    except Exception as error:
        raise FallBack("serialize") from error
    if result is None or result is Undefined:
        raise FallBack("serialize")
    return result
