"""Validation of a parsed document: graphql-core's rules, with the codes this API gives their
errors. Every validation error is BAD_REQUEST but two kinds: graphql-core's bound on
introspection is QUERY_TOO_COMPLEX (`limits.IntrospectionDepthRule`), and a literal value
that does not fit its type is BAD_USER_INPUT naming the argument or input field it is given
for, as the same value in a variable is. A client that may not see the schema is refused
introspection too (`introspection.StaffOnlyIntrospectionRule`).
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    GraphQLError,
    MaxIntrospectionDepthRule,
    ValuesOfCorrectTypeRule,
    specified_rules,
    validate,
)
from graphql.language import ArgumentNode, Node, ObjectFieldNode, ValueNode, Visitor, visit

from . import introspection, limits
from .errors import BAD_USER_INPUT
from .schema import GRAPHQL_SCHEMA


class LiteralValuesRule(ValuesOfCorrectTypeRule):
    """graphql-core's check of literal values, a scalar or enum literal that does not fit its
    type (`first: "ten"`, `accept: 1`, `status: SOMETIMES`) tagged BAD_USER_INPUT, as the same
    value in a variable is: graphql-core's own scalars report it in their own words, which
    `_as_input_error` would not recognise. A missing or unknown input field stays BAD_REQUEST."""

    _literal: ValueNode | None = None

    def is_valid_value_node(self, node: ValueNode) -> None:
        self._literal = node
        try:
            super().is_valid_value_node(node)
        finally:
            self._literal = None

    def report_error(self, error: GraphQLError) -> None:
        if self._literal is not None:
            extensions = {**(error.extensions or {}), "code": BAD_USER_INPUT}
            error = GraphQLError(error.message, error.nodes or self._literal, extensions=extensions)
        super().report_error(error)


# graphql-core's rules, its bound on introspection reported as QUERY_TOO_COMPLEX and literals that
# do not fit their type as BAD_USER_INPUT.
VALIDATION_RULES = tuple(
    {MaxIntrospectionDepthRule: limits.IntrospectionDepthRule, ValuesOfCorrectTypeRule: LiteralValuesRule}.get(
        rule, rule
    )
    for rule in specified_rules
)
# For a client that may not see the schema: no introspection either.
SCHEMA_HIDDEN_RULES = (*VALIDATION_RULES, introspection.StaffOnlyIntrospectionRule)


def validation_errors(document: DocumentNode, shows_schema: bool = True) -> tuple[GraphQLError, ...]:
    """What is wrong with `document` against the schema, each error coded; empty when it is
    valid. `shows_schema` false: introspection is refused too."""
    errors = validate(GRAPHQL_SCHEMA, document, VALIDATION_RULES if shows_schema else SCHEMA_HIDDEN_RULES)
    return tuple(_as_input_error(document, error) for error in errors)


def _as_input_error(document: DocumentNode, error: GraphQLError) -> GraphQLError:
    """A literal value that does not fit its type is bad user input, not a bad
    request: tag it BAD_USER_INPUT with the argument or input field it is given for."""
    tagged = bool(error.extensions and error.extensions.get("code") == BAD_USER_INPUT)
    if not (tagged or error.message.startswith("Expected value of type")) or not error.nodes:
        return error
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        extensions={"code": BAD_USER_INPUT, "field": _name_given_to(document, error.nodes[0])},
    )


def _name_given_to(document: DocumentNode, value_node: Node) -> str | None:
    """The argument or input object field whose value is `value_node`."""
    found: list[str] = []

    class Finder(Visitor):
        def enter_argument(self, node: ArgumentNode, *_):
            if node.value is value_node:
                found.append(node.name.value)

        def enter_object_field(self, node: ObjectFieldNode, *_):
            if node.value is value_node:
                found.append(node.name.value)

    visit(document, Finder())
    return found[0] if found else None
