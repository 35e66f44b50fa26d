"""What one operation may ask for, checked before anything of it runs. Every refusal is a
`QueryTooComplex` (code QUERY_TOO_COMPLEX) whose message gives the figure and the limit.

Each check runs as early as its input allows, so that a hostile query costs little:

1. `check_size`: the query's size in bytes, before it is hashed or parsed.
2. `check_tokens`: its tokens and bracket nesting, lexed before parsing (graphql-core's
   parser recurses for every bracket and overflows Python's stack near 250 levels).
3. `check_shape`: depth, aliases and repeated fields of the parsed document, before
   validation (whose overlapping-fields rule is quadratic in the repeats of a field).
4. `operation_costs` once per document after validation, then `OperationCost.check` per
   request: each field costs 1 times the page sizes of the connections around it, and a
   page size given by a variable is read from that request's variables.

Introspection (`__schema`, `__type`) does not count towards the depth: GraphiQL's
introspection query is 13 fields deep, and graphql-core's own validation rule (reported
as QUERY_TOO_COMPLEX by `IntrospectionDepthRule`) bounds the one recursion introspection
allows, types of fields of types…
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.conf import settings
from graphql import GraphQLError, GraphQLNamedType, GraphQLSchema, get_named_type
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    Lexer,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    TokenKind,
    VariableNode,
)
from graphql.validation import MaxIntrospectionDepthRule
from graphql.validation.rules.max_introspection_depth_rule import MAX_LIST_DEPTH

from .errors import QUERY_TOO_COMPLEX, APIError
from .graphql_core_path import get_field_def

# Brackets nested deeper than this are refused before parsing. graphql-core's parser
# recurses a few frames per level and overflows Python's stack near 250 levels; the app's
# operations nest 10 deep at most.
MAX_NESTING = 64
# The fields whose selections are introspection, bounded by IntrospectionDepthRule.
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
# The settings of a paged field's default and largest page size, for the fields (taking
# `first`) whose page sizes are not the connections' GRAPHQL_DEFAULT/MAX_PAGE_SIZE.
PAGE_SIZE_SETTINGS = {("Query", "changes"): ("GRAPHQL_SYNC_DEFAULT_PAGE_SIZE", "GRAPHQL_SYNC_MAX_PAGE_SIZE")}
CONNECTION_PAGE_SIZE_SETTINGS = ("GRAPHQL_DEFAULT_PAGE_SIZE", "GRAPHQL_MAX_PAGE_SIZE")

_OPENING = frozenset({TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L})
_CLOSING = frozenset({TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R})


class QueryTooComplex(APIError):
    code = QUERY_TOO_COMPLEX

    def as_graphql_error(self) -> GraphQLError:
        return GraphQLError(self.message, extensions={"code": QUERY_TOO_COMPLEX})


# ---------------------------------------------------------------- before parsing


def check_size(query: str) -> None:
    """Refuse a query text over GRAPHQL_MAX_QUERY_BYTES (in UTF-8)."""
    limit = settings.GRAPHQL_MAX_QUERY_BYTES
    if len(query) * 4 <= limit:  # fits even if every character takes 4 bytes: no need to encode
        return
    size = len(query.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise QueryTooComplex(f"Query size {size:,} bytes exceeds the limit of {limit:,} bytes.")


def check_tokens(query: str) -> None:
    """Refuse a query over GRAPHQL_MAX_TOKENS tokens (lexing stops there) or with brackets
    nested deeper than MAX_NESTING. A syntax error is raised as graphql-core's own."""
    limit = settings.GRAPHQL_MAX_TOKENS
    lexer = Lexer(Source(query))
    tokens = nesting = deepest = 0
    kind = lexer.advance().kind
    while kind is not TokenKind.EOF:
        tokens += 1
        if tokens > limit:
            raise QueryTooComplex(f"Query has more than {limit:,} tokens, the limit.")
        if kind in _OPENING:
            nesting += 1
            deepest = max(deepest, nesting)
        elif kind in _CLOSING:
            nesting -= 1
        kind = lexer.advance().kind
    if deepest > MAX_NESTING:
        raise QueryTooComplex(f"Query nesting {deepest} exceeds the limit of {MAX_NESTING}.")


# ---------------------------------------------------------------- before validation


def check_shape(document: DocumentNode) -> None:
    """Refuse a document too deep, with too many aliases, or repeating a field too often
    in one selection. Read from the syntax alone, so it runs before validation: an unknown
    fragment counts as empty and a fragment cycle is cut, both left to validation to report."""
    depth, limit = document_depth(document), settings.GRAPHQL_MAX_DEPTH
    if depth > limit:
        raise QueryTooComplex(f"Query depth {depth} exceeds the limit of {limit}.")
    check_selections(document)


def check_selections(document: DocumentNode) -> None:
    """Refuse too many aliases in all, or one field selected too often in one selection
    (graphql-core's validation compares every pair of them: 2,000 repeats of `id` take 5 s)."""
    aliases, (field, repeats) = 0, ("", 0)
    for fields in field_groups(document):
        aliases += sum(1 for node in fields if node.alias is not None)
        most_repeated = Counter((node.alias or node.name).value for node in fields).most_common(1)
        if most_repeated and most_repeated[0][1] > repeats:
            field, repeats = most_repeated[0]
    if aliases > settings.GRAPHQL_MAX_ALIASES:
        raise QueryTooComplex(f"Query has {aliases} aliases, over the limit of {settings.GRAPHQL_MAX_ALIASES}.")
    if repeats > settings.GRAPHQL_MAX_FIELD_REPEATS:
        raise QueryTooComplex(
            f"Field '{field}' is selected {repeats} times in one selection, "
            f"over the limit of {settings.GRAPHQL_MAX_FIELD_REPEATS}."
        )


def document_depth(document: DocumentNode) -> int:
    """The depth of the document's deepest operation, its fragments followed."""
    fragments = fragments_of(document)
    depths: dict[str, int] = {}
    for name in dependency_order(fragments):
        depths[name] = selection_depth(fragments[name].selection_set, depths)
    return max((selection_depth(operation.selection_set, depths) for operation in operations_of(document)), default=0)


def selection_depth(selection_set: SelectionSetNode, fragment_depths: Mapping[str, int]) -> int:
    """How many fields deep `selection_set` goes, a spread counting its fragment's depth."""
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            nested = selection.selection_set
            introspection = selection.name.value in INTROSPECTION_FIELDS
            below = 0 if nested is None or introspection else selection_depth(nested, fragment_depths)
            deepest = max(deepest, 1 + below)
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, selection_depth(selection.selection_set, fragment_depths))
        elif isinstance(selection, FragmentSpreadNode):
            deepest = max(deepest, fragment_depths.get(selection.name.value, 0))
    return deepest


# ---------------------------------------------------------------- the document's parts


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }


def operations_of(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [definition for definition in document.definitions if isinstance(definition, OperationDefinitionNode)]


def field_groups(document: DocumentNode) -> Iterator[list[FieldNode]]:
    """The fields of each selection set of the document, with those of its inline
    fragments (which merge into it). Iterative, so that no document is too deep for it."""
    pending = [
        definition.selection_set
        for definition in document.definitions
        if isinstance(definition, (OperationDefinitionNode, FragmentDefinitionNode))
    ]
    while pending:
        fields: list[FieldNode] = []
        inline = [pending.pop()]
        while inline:
            for selection in inline.pop().selections:
                if isinstance(selection, FieldNode):
                    fields.append(selection)
                    if selection.selection_set is not None:
                        pending.append(selection.selection_set)
                elif isinstance(selection, InlineFragmentNode):
                    inline.append(selection.selection_set)
        yield fields


def spread_names(selection_set: SelectionSetNode) -> list[str]:
    """The fragments spread anywhere inside `selection_set`, each once, in order."""
    names: dict[str, None] = {}
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                names[selection.name.value] = None
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set is not None:
                pending.append(selection.selection_set)
    return list(names)


def dependency_order(fragments: Mapping[str, FragmentDefinitionNode]) -> list[str]:
    """The fragments' names, each after every fragment it spreads. A spread that would
    close a cycle, or names no fragment, is left out. Iterative: a chain of hundreds of
    fragments must not overflow the stack."""
    spreads = {name: spread_names(fragment.selection_set) for name, fragment in fragments.items()}
    order: list[str] = []
    seen: set[str] = set()
    for root in fragments:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(spreads[root]))]
        while stack:
            name, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                order.append(name)
            elif child in fragments and child not in seen:
                seen.add(child)
                stack.append((child, iter(spreads[child])))
    return order


# ---------------------------------------------------------------- after validation


class IntrospectionDepthRule(MaxIntrospectionDepthRule):
    """graphql-core's bound on introspection (`fields`, `interfaces`, `possibleTypes` and
    `inputFields` nested at most MAX_LIST_DEPTH - 1 deep), reported as QUERY_TOO_COMPLEX."""

    def report_error(self, error: GraphQLError) -> None:
        super().report_error(
            GraphQLError(
                f"Introspection nests lists of fields or types {MAX_LIST_DEPTH} deep, "
                f"over the limit of {MAX_LIST_DEPTH - 1}.",
                error.nodes,
                extensions={"code": QUERY_TOO_COMPLEX},
            )
        )


@dataclass(frozen=True)
class PageSize:
    """How many items a paged field (one with `first`) may return: its `first` argument,
    a literal or a variable, within the field's default and maximum."""

    default: int
    maximum: int
    variable: str | None = None
    literal: int | None = None

    def value(self, variables: Mapping[str, Any], variable_defaults: Mapping[str, Any]) -> int:
        if self.variable is None:
            return self.within_bounds(self.literal)
        if self.variable in variables:
            return self.within_bounds(variables[self.variable])
        return self.within_bounds(variable_defaults.get(self.variable))

    def within_bounds(self, first: Any) -> int:
        # A value that is not an int fails execution with its own error; over the maximum
        # or negative, the resolver refuses it: count what could run at most.
        if not isinstance(first, int) or isinstance(first, bool):
            return self.default
        return min(max(first, 0), self.maximum)


@dataclass(frozen=True)
class SelectionCost:
    """The cost of a selection, once per parent: its fields (and those of the unpaged fields
    inside it, folded in) cost 1 each; each paged field's selection costs its page size
    times its own cost; each fragment spread, the fragment's cost."""

    fields: int
    paged: tuple[tuple[PageSize, SelectionCost], ...]
    spreads: tuple[str, ...]

    def estimate(self, pages: Mapping[PageSize, int], fragment_costs: Mapping[str, int]) -> int:
        total = self.fields + sum(fragment_costs.get(name, 0) for name in self.spreads)
        for page_size, selection in self.paged:
            total += pages[page_size] * selection.estimate(pages, fragment_costs)
        return total

    def page_sizes(self) -> Iterator[PageSize]:
        for page_size, selection in self.paged:
            yield page_size
            yield from selection.page_sizes()


@dataclass(frozen=True)
class OperationCost:
    """One operation's cost plan, made once per document; `estimate` applies a request's
    variables to it, or returns the one figure when no variable sets a page size."""

    selection: SelectionCost
    fragments: tuple[tuple[str, SelectionCost], ...]  # every fragment after those it spreads
    variable_defaults: Mapping[str, Any]

    @cached_property
    def page_sizes(self) -> frozenset[PageSize]:
        selections = (self.selection, *(selection for _, selection in self.fragments))
        return frozenset(page_size for selection in selections for page_size in selection.page_sizes())

    @cached_property
    def fixed_cost(self) -> int | None:
        """The cost whatever the variables, if no variable sets a page size (worked out by
        the first request, kept with the cached document)."""
        if any(page_size.variable for page_size in self.page_sizes):
            return None
        return self._estimate({})

    def estimate(self, variables: Mapping[str, Any] | None) -> int:
        fixed = self.fixed_cost
        return fixed if fixed is not None else self._estimate(variables or {})

    def check(self, variables: Mapping[str, Any] | None) -> int:
        """The operation's estimated cost, or QueryTooComplex when it exceeds GRAPHQL_MAX_COST."""
        cost, limit = self.estimate(variables), settings.GRAPHQL_MAX_COST
        if cost > limit:
            raise QueryTooComplex(f"Query cost {cost:,} exceeds the limit of {limit:,}.")
        return cost

    def _estimate(self, variables: Mapping[str, Any]) -> int:
        pages = {page_size: page_size.value(variables, self.variable_defaults) for page_size in self.page_sizes}
        fragment_costs: dict[str, int] = {}
        for name, selection in self.fragments:
            fragment_costs[name] = selection.estimate(pages, fragment_costs)
        return self.selection.estimate(pages, fragment_costs)


def operation_costs(schema: GraphQLSchema, document: DocumentNode) -> dict[str | None, OperationCost]:
    """The cost plan of each operation of a valid document, by operation name."""
    planner = CostPlanner(schema)
    fragments = fragments_of(document)
    fragment_plans = tuple(
        (name, planner.plan(schema.get_type(fragments[name].type_condition.name.value), fragments[name]))
        for name in dependency_order(fragments)
    )
    costs: dict[str | None, OperationCost] = {}
    for operation in operations_of(document):
        root_type = schema.get_root_type(operation.operation)
        if root_type is None:  # a subscription: refused before any cost matters
            continue
        variable_defaults = {
            definition.variable.name.value: int(definition.default_value.value)
            for definition in operation.variable_definitions
            if isinstance(definition.default_value, IntValueNode)
        }
        cost = OperationCost(planner.plan(root_type, operation), fragment_plans, variable_defaults)
        costs[operation.name.value if operation.name else None] = cost
    return costs


class CostPlanner:
    """Builds the SelectionCost of a selection set, knowing the schema's types."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema

    def plan(self, parent_type: GraphQLNamedType | None, node: Any) -> SelectionCost:
        fields, paged, spreads = self._collect(parent_type, node.selection_set)
        return SelectionCost(fields, tuple(paged), tuple(dict.fromkeys(spreads)))

    def _collect(self, parent_type, selection_set: SelectionSetNode) -> tuple[int, list, list[str]]:
        fields, paged, spreads = 0, [], []
        for selection in selection_set.selections:
            if isinstance(selection, FragmentSpreadNode):
                spreads.append(selection.name.value)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner_type = self.schema.get_type(condition.name.value) if condition else parent_type
                inner = self._collect(inner_type, selection.selection_set)
            else:
                assert isinstance(selection, FieldNode)  # the third kind of selection
                fields += 1
                if selection.selection_set is None:
                    continue
                field_def = get_field_def(self.schema, parent_type, selection)
                inner_type = get_named_type(field_def.type)
                page_size = self.page_size(parent_type, selection, field_def)
                if page_size is not None:
                    paged.append((page_size, self.plan(inner_type, selection)))
                    continue
                inner = self._collect(inner_type, selection.selection_set)
            fields += inner[0]
            paged.extend(inner[1])
            spreads.extend(inner[2])
        return fields, paged, spreads

    @staticmethod
    def page_size(parent_type: GraphQLNamedType, node: FieldNode, field_def) -> PageSize | None:
        """The page size of a field taking `first`; None for any other field."""
        if "first" not in field_def.args:
            return None
        names = PAGE_SIZE_SETTINGS.get((parent_type.name, node.name.value), CONNECTION_PAGE_SIZE_SETTINGS)
        default, maximum = (getattr(settings, name) for name in names)
        argument = next((argument.value for argument in node.arguments if argument.name.value == "first"), None)
        if isinstance(argument, VariableNode):
            return PageSize(default, maximum, variable=argument.name.value)
        literal = int(argument.value) if isinstance(argument, IntValueNode) else None
        return PageSize(default, maximum, literal=literal)
