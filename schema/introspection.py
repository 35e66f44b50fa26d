"""Who may see the schema: introspection (`__schema`, `__type`) and graphql-core's "Did you
mean ...?" suggestions in error messages, which spell out the schema's names a guess at a
time. GRAPHQL_INTROSPECTION says: "everyone", or "staff" (users with is_staff, by session in
GraphiQL or by token; the default in production). `__typename` is always allowed: clients
such as Apollo's ask for it in every operation.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.conf import settings
from graphql import GraphQLError
from graphql.language import FieldNode
from graphql.validation import ValidationRule

if TYPE_CHECKING:
    from calendarapp.models import User

EVERYONE = "everyone"
INTROSPECTION_FIELDS = ("__schema", "__type")  # names no schema's own field may have


def shows_schema(viewer: User | None) -> bool:
    """Whether a request by `viewer` may introspect the schema and be given suggestions.
    Any value but "everyone" shows it to staff only: a typo in the setting hides, never shows."""
    if settings.GRAPHQL_INTROSPECTION == EVERYONE:
        return True
    return viewer is not None and viewer.is_staff


class StaffOnlyIntrospectionRule(ValidationRule):
    """Refuses the two ways into introspection, the query root's `__schema` and `__type`
    (by field name, so whatever the alias), once each: every introspection type is reached
    through them. Its errors are BAD_REQUEST, as every validation error's."""

    def enter_field(self, node: FieldNode, *_args) -> None:
        if node.name.value in INTROSPECTION_FIELDS:
            message = f"Introspection is not available to this client: '{node.name.value}' is for staff only."
            self.report_error(GraphQLError(message, node))


# What graphql-core's did_you_mean() appends to a message: " Did you mean 'a', 'b', or 'c'?",
# maybe with "the enum value" or "to use an inline fragment on" before the names (GraphQL
# names, \w+). It always ends the message; nothing else in one ends that way.
_SUGGESTION = re.compile(r" Did you mean (?:[a-z ]+ )?'\w+'(?:(?:, |,? or )'\w+')*\?$")


def without_suggestions(message: str) -> str:
    """`message` without the suggestion graphql-core ends it with, if any."""
    return _SUGGESTION.sub("", message)
