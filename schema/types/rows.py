"""The columns loaders read for an object type's rows (loaders/rows.py), from the one place
that says what each field needs: its graphene-django-optimizer hint (`only=`) where it has
a resolver, else the model column of the same name (or `source=`)."""

from __future__ import annotations

from graphene_django import DjangoObjectType

from loaders.rows import Row, declare_columns


def shown_columns(object_type: type[DjangoObjectType]) -> list[str]:
    """Every column any field of `object_type` reads, in field order, primary key first."""
    model = object_type._meta.model
    model_columns = {field.name: field.attname for field in model._meta.concrete_fields}
    columns = [model._meta.pk.attname]
    for name, field in object_type._meta.fields.items():
        resolver = getattr(object_type, f"resolve_{name}", None) or getattr(field, "resolver", None)
        hints = getattr(resolver, "optimization_hints", None)
        column = model_columns.get(getattr(field, "source", None) or name)
        needed = hints.only(None) if hints is not None else (column,)
        columns.extend(column for column in needed if column and column not in columns)
    return columns


def declare_rows(*object_types: type[DjangoObjectType]) -> None:
    """Loaders return rows of these types' models, holding the columns the types show."""
    for object_type in object_types:
        declare_columns(object_type._meta.model, shown_columns(object_type))


class RowAwareObjectType(DjangoObjectType):
    """A model's object type that also takes the model's rows (loaders/rows.py) as its values."""

    class Meta:
        abstract = True

    @classmethod
    def is_type_of(cls, root, info) -> bool:
        if isinstance(root, Row):
            return root.model is cls._meta.model
        return super().is_type_of(root, info)
