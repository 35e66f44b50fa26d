"""Generated operations for the differential tests: hypothesis-graphql's valid queries over the
schema, dressed with what it does not generate itself.

hypothesis-graphql (`hypothesis_graphql.queries`) draws a selection of the Query type's
fields, nested to any depth, with literal arguments (drawn here from the seeded world: real
IDs and garbage ones, days near the seeded events, page sizes around the pages' edges,
cursors, usernames, searches, visibilities and now and then an empty list of them) and
inline fragments on the types that implement `Node`. `Dresser` then rewrites the document,
each choice drawn by hypothesis:

- arguments lifted into variables (`$v0: Int`), some given a default in the document and
  left out of the request, some nullable ones left out (undefined, not null);
- aliases, `__typename` here and there, and fields selected twice (with the same or fewer
  subfields: they merge);
- runs of selections wrapped in inline fragments, typed (`... on User`) or not (`... {`),
  and in named fragments (`...F0`, defined after the operation);
- `@include(if: $f0)` / `@skip(if: $f1)` on fields and fragments, the flag a `Boolean!`
  variable, or now and then a literal;
- sometimes the operation named, beside a second operation the request does not select.

An operation comes with its variants: the same document with the flags all true, all false
and mixed, and with its scalar variables drawn again. They are sent one after another on
each path (so a plan cached for the first variant is reused for the next: a cache key that
ignores a variable that changes the plan's shape shows), or all in one batch request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import hypothesis_graphql
from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    EnumValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    NamedTypeNode,
    NameNode,
    NullValueNode,
    ObjectFieldNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    is_list_type,
    is_non_null_type,
    parse,
    print_ast,
    specified_rules,
    type_from_ast,
    validate,
    value_from_ast_untyped,
)
from graphql.validation import ValuesOfCorrectTypeRule
from hypothesis import strategies as st
from hypothesis_graphql import nodes

from tests.differential_world import AWKWARD_TEXT, DAY, MISSING_IDS, PAGE_CURSORS, PASSWORD, PEOPLE, VISIBILITIES, Town

MAX_ALIASES = 8  # the server allows 20 in a document
MAX_FRAGMENTS = 4
SHAPE_RULES = [rule for rule in specified_rules if rule is not ValuesOfCorrectTypeRule]


def uniform(values) -> st.SearchStrategy:
    """One of `values`, each about as likely (hypothesis' integers favour small ones; its
    sampled_from draws evenly and shrinks towards the first)."""
    return st.sampled_from(tuple(values))


def scalar_strategies(town: Town) -> dict[str, st.SearchStrategy[ValueNode]]:
    """Literal values for each scalar, mostly ones that mean something to the seeded world."""
    days = [DAY + dt.timedelta(days=offset) for offset in (-1, 0, 0, 0, 1)]
    days += [dt.date(2026, 3, 29), dt.date(2026, 11, 1), dt.date(2001, 1, 1)]
    ids = st.one_of(
        uniform(sorted(town.ids.values())),
        uniform(sorted(town.ids.values())),
        uniform(sorted(town.ids.values())),
        uniform([make() for make in MISSING_IDS.values()]),
    )
    dates = st.one_of(
        uniform([day.isoformat() for day in days]),
        uniform([day.isoformat() for day in days]),
        uniform(["2026-02-30", "23/11/2026", "0001-01-01", "9999-12-31"]),
    )
    offsets = ("Z", "+00:00", "+01:00", "-05:00", "+14:00", "+05:45")
    datetimes = st.one_of(
        st.builds(
            lambda day, hour, offset: f"{day}T{hour:02}:00:00{offset}",
            uniform([day.isoformat() for day in days]),
            st.integers(0, 23),
            uniform(offsets),
        ),
        uniform(["2026-11-23T10:00:00", "2026-11-23T25:00:00Z", "now"]),  # naive, impossible, not a time
    )
    strings = st.one_of(
        uniform([*PEOPLE, "ANN", "nobody"]),  # usernames, in any case
        uniform(["a", "An", "", " ", "é", "pal"]),  # searches
        uniform([*PAGE_CURSORS.values(), *town.cursors.values(), "garbage"]),  # page and sync cursors
    )
    ints = st.one_of(st.integers(0, 3), st.integers(0, 3), uniform([20, 25, 100, 101, 1000, -1]))
    return {
        "ID": ids.map(nodes.String),
        "Date": dates.map(nodes.String),
        "DateTime": datetimes.map(nodes.String),
        "String": strings.map(nodes.String),
        "Int": ints.map(nodes.Int),
    }


def argument_strategies(town: Town) -> dict[str, st.SearchStrategy]:
    """Values for arguments and input fields by name (`after`), or by name and type where a
    name has two (`from:Date`, `from:DateTime`), drawn instead of the scalar's own (an `after`
    gets a cursor, not a username): mostly ones that work, about one in twelve one refused."""

    def mostly(valid: st.SearchStrategy, invalid: list) -> st.SearchStrategy:
        return uniform(range(12)).flatmap(lambda roll: uniform(invalid) if roll == 0 else valid)

    def ids(prefix: str) -> st.SearchStrategy:
        return mostly(uniform([town.ids[key] for key in town.keys(prefix)]), [make() for make in MISSING_IDS.values()])

    days = [DAY.isoformat(), DAY.isoformat(), "2026-11-22", "2026-11-24", "2026-03-29", "2026-11-01"]
    moments = ["2026-11-23T00:00:00+01:00", "2026-11-22T18:00:00Z", "2026-11-23T12:00:00-05:00"]
    later = ["2026-11-24T00:00:00+01:00", "2026-11-23T14:00:00Z", "2026-11-23T12:00:00-05:00"]
    text = uniform(["Lunch", "Caf\u00e9 \u00ab Z \u00bb", AWKWARD_TEXT[:80], "x" * 200])
    return {
        # Arguments of the Query type's fields and below.
        "first": mostly(st.one_of(st.integers(0, 4), st.integers(0, 4), uniform([20, 25, 50])), [-1, 101, 1000]),
        "after": mostly(
            uniform([PAGE_CURSORS[key] for key in ("after:0", "after:2", "after:19", "after:past-end")]),
            [PAGE_CURSORS["after:garbage"]],
        ),
        "since": mostly(uniform(list(town.cursors.values())), ["garbage"]),
        "username": mostly(uniform([*PEOPLE, "ANN", "newcomer"]), ["nobody", "x"]),
        "search": mostly(
            uniform(["a", "An", "", " ", "\u00e9", "pal", "zz", "busy", "CAF\u00c9", "Parc"]), ["x" * 151]
        ),
        "date": mostly(uniform(days), ["2026-02-30", "0001-01-01"]),
        "visibility": mostly(st.lists(uniform(VISIBILITIES), min_size=1, max_size=4).map(tuple), [()]),
        "from:DateTime": mostly(uniform(moments), ["2026-11-23T10:00:00"]),
        "to:DateTime": uniform(later),
        "id": mostly(uniform(sorted(town.ids.values())), [make() for make in MISSING_IDS.values()]),
        # Fields of the mutations' inputs.
        "eventId": ids("event:"),
        "requestId": ids("request:"),
        "userId": ids("user:"),
        "from:Date": mostly(uniform(days), ["2026-02-30"]),
        "to:Date": mostly(uniform(["2026-11-29", "2026-11-23", "2027-01-01"]), ["2030-01-01"]),
        "startsAt": mostly(uniform(moments), ["2026-11-23T10:00:00"]),
        "endsAt": mostly(uniform(later), ["2026-11-22T00:00:00Z"]),
        "title": mostly(text, ["", "x" * 201]),
        "description": text,
        "location": text,
        "password": mostly(uniform([PASSWORD, "a-long-pass-phrase"]), ["short", "wrong password"]),
        "displayName": mostly(uniform(["New", "Zo\u00eb"]), [""]),
        "timezone": mostly(uniform(["UTC", "Europe/Paris", "Asia/Kathmandu"]), ["Mars/Base"]),
        "clientMutationId": uniform(["m1", "\u00e9\U0001f389"]),
    }


def literal(value: Any) -> ValueNode:
    if isinstance(value, tuple):  # a list of enum values (`visibility: [PUBLIC, FRIENDS]`)
        return ListValueNode(values=tuple(EnumValueNode(value=item) for item in value))
    if isinstance(value, bool):
        return BooleanValueNode(value=value)
    if isinstance(value, int):
        return nodes.Int(value)
    return nodes.String(value)


@dataclass
class Generated:
    """One generated document and the variables of each variant to send it with."""

    query: str
    operation_name: str | None
    variants: list[dict[str, Any]]
    mutation: bool = False

    def payloads(self) -> list[dict[str, Any]]:
        payloads = []
        for variables in self.variants:
            payload: dict[str, Any] = {"query": self.query, "variables": variables}
            if self.operation_name:
                payload["operationName"] = self.operation_name
            payloads.append(payload)
        return payloads


@dataclass
class Dresser:
    """Rewrites one generated document (see the module docstring), drawing every choice."""

    schema: GraphQLSchema
    draw: Any
    scalars: dict[str, st.SearchStrategy[ValueNode]]
    by_name: dict[str, st.SearchStrategy]
    definitions: list[VariableDefinitionNode] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    redrawable: dict[str, st.SearchStrategy] = field(default_factory=dict)  # variable -> its values
    flags: list[str] = field(default_factory=list)
    fragments: list[FragmentDefinitionNode] = field(default_factory=list)
    aliases: int = 0

    def chance(self, one_in: int) -> bool:
        return self.draw(uniform(range(one_in))) == 0

    def dress(self, document: DocumentNode) -> Generated:
        (operation,) = document.definitions
        root = self.schema.mutation_type if operation.operation == OperationType.MUTATION else self.schema.query_type
        selection_set = self.selection_set(operation.selection_set, root)
        named = self.chance(4)
        definitions = [
            OperationDefinitionNode(
                operation=operation.operation,
                name=NameNode(value="Generated") if named else None,
                variable_definitions=tuple(self.definitions),
                directives=(),
                selection_set=selection_set,
            ),
            *self.fragments,
        ]
        if named and self.chance(2):  # another operation in the document, not the one selected
            other = parse("query Other { __typename }").definitions[0]
            definitions.insert(self.draw(st.integers(0, 1)), other)
        query = print_ast(DocumentNode(definitions=tuple(definitions)))
        # Literal values may be wrong on purpose (a date that does not exist): that is checked
        # by the server; anything else wrong is the dresser's mistake.
        errors = validate(self.schema, parse(query), SHAPE_RULES)
        assert not errors, f"the dressed document does not validate: {errors}\n{query}"
        mutation = operation.operation == OperationType.MUTATION
        return Generated(query, "Generated" if named else None, self.variants(), mutation)

    def variants(self) -> list[dict[str, Any]]:
        variants = [dict(self.values)]
        if self.flags:
            variants[0].update({flag: True for flag in self.flags})
            variants.append({**self.values, **{flag: False for flag in self.flags}})
            variants.append({**self.values, **{flag: self.draw(st.booleans()) for flag in self.flags}})
        if self.redrawable:
            redrawn = dict(variants[-1])
            for name, values in self.redrawable.items():
                redrawn[name] = self.draw(values)
            variants.append(redrawn)
        return variants

    # --- selections -------------------------------------------------------------------------------

    def selection_set(self, node: SelectionSetNode, parent) -> SelectionSetNode:
        selections = []
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                selections.append(self.field(selection, parent))
            elif isinstance(selection, InlineFragmentNode):
                on = self.schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
                selections.append(
                    InlineFragmentNode(
                        type_condition=selection.type_condition,
                        directives=self.directives(),
                        selection_set=self.selection_set(selection.selection_set, on),
                    )
                )
            else:
                selections.append(selection)
        fields = [selection for selection in selections if isinstance(selection, FieldNode)]
        if fields and self.chance(6):  # a field selected again: the same, or with fewer subfields
            again = self.draw(uniform(range(len(fields))))
            selections.insert(self.draw(st.integers(0, len(selections))), self.again(fields[again]))
        if self.chance(6):
            selections.insert(self.draw(st.integers(0, len(selections))), self.typename())
        if len(self.fragments) < MAX_FRAGMENTS and self.chance(3):
            start = self.draw(st.integers(0, len(selections) - 1))
            end = self.draw(st.integers(start + 1, len(selections)))
            selections[start:end] = [self.fragment(selections[start:end], parent)]
        return SelectionSetNode(selections=tuple(selections))

    def field(self, node: FieldNode, parent) -> FieldNode:
        name = node.name.value
        if name == "__typename":
            return FieldNode(alias=node.alias, name=node.name, arguments=(), directives=self.directives())
        definition = parent.fields[name]
        given = [argument.name.value for argument in node.arguments]
        # Both a day and a range is refused: mostly keep the day only.
        dropped = {"from", "to"} if "date" in given and not self.chance(5) else set()
        arguments = tuple(
            self.argument(argument, definition.args[argument.name.value])
            for argument in node.arguments
            if argument.name.value not in dropped
        )
        alias = node.alias
        if alias is None and self.aliases < MAX_ALIASES and self.chance(5):
            alias = NameNode(value=f"a{self.aliases}")
            self.aliases += 1
        selection_set = None
        if node.selection_set is not None:
            selection_set = self.selection_set(node.selection_set, get_named_type(definition.type))
        return FieldNode(
            alias=alias, name=node.name, arguments=arguments, directives=self.directives(), selection_set=selection_set
        )

    def again(self, node: FieldNode) -> FieldNode:
        selection_set = node.selection_set
        if selection_set is not None and len(selection_set.selections) > 1 and self.chance(2):
            keep = self.draw(st.integers(1, len(selection_set.selections)))
            selection_set = SelectionSetNode(selections=selection_set.selections[:keep])
        return FieldNode(
            alias=node.alias,
            name=node.name,
            arguments=node.arguments,
            directives=node.directives,
            selection_set=selection_set,
        )

    def typename(self) -> FieldNode:
        alias = None
        if self.aliases < MAX_ALIASES and self.chance(3):
            alias = NameNode(value=f"a{self.aliases}")
            self.aliases += 1
        return FieldNode(alias=alias, name=NameNode(value="__typename"), arguments=(), directives=self.directives())

    def fragment(self, selections: list, parent: GraphQLObjectType | GraphQLInterfaceType):
        selection_set = SelectionSetNode(selections=tuple(selections))
        on = NamedTypeNode(name=NameNode(value=parent.name))
        kind = self.draw(st.integers(0, 2))
        if kind == 0:
            return InlineFragmentNode(type_condition=on, directives=self.directives(), selection_set=selection_set)
        if kind == 1:  # no type condition
            return InlineFragmentNode(type_condition=None, directives=self.directives(), selection_set=selection_set)
        name = NameNode(value=f"F{len(self.fragments)}")
        self.fragments.append(
            FragmentDefinitionNode(name=name, type_condition=on, directives=(), selection_set=selection_set)
        )
        return FragmentSpreadNode(name=name, directives=self.directives())

    # --- arguments and directives -----------------------------------------------------------------

    def strategy_for(self, name: str, type_) -> st.SearchStrategy | None:
        typed = self.by_name.get(f"{name}:{get_named_type(type_).name}")
        return self.by_name.get(name) if typed is None else typed

    def value(self, node: ValueNode, name: str, type_) -> ValueNode:
        """A generated value with what its name asks for: the literal drawn again by name, and
        an input object's fields each so."""
        named = get_named_type(type_)
        if isinstance(node, ObjectValueNode) and isinstance(named, GraphQLInputObjectType):
            fields = tuple(
                ObjectFieldNode(
                    name=item.name, value=self.value(item.value, item.name.value, named.fields[item.name.value].type)
                )
                for item in node.fields
            )
            return ObjectValueNode(fields=fields)
        by_name = self.strategy_for(name, type_)
        if by_name is None or isinstance(node, NullValueNode | VariableNode):
            return node
        drawn = self.draw(by_name)
        if isinstance(drawn, tuple) != is_list_type(_nullable(type_)):  # a list's strategy draws tuples
            return node
        return literal(drawn)

    def argument(self, node: ArgumentNode, definition) -> ArgumentNode:
        by_name = self.strategy_for(node.name.value, definition.type)
        node = ArgumentNode(name=node.name, value=self.value(node.value, node.name.value, definition.type))
        if not self.chance(2):
            return node  # a literal, as generated
        name = f"v{len(self.definitions)}"
        value = value_from_ast_untyped(node.value)
        type_node = _type_node(definition.type)
        default = None
        if value is not None and self.chance(5):  # given in the document, left out of the request
            default = node.value
        elif value is None and not is_non_null_type(definition.type) and self.chance(2):
            pass  # left out of the request: undefined, not null
        else:
            self.values[name] = value
        named = get_named_type(definition.type)
        if default is None and named.name in self.scalars and not is_list_type(_nullable(definition.type)):
            self.redrawable[name] = self.scalars[named.name].map(value_from_ast_untyped) if by_name is None else by_name
        self.definitions.append(
            VariableDefinitionNode(
                variable=VariableNode(name=NameNode(value=name)), type=type_node, default_value=default, directives=()
            )
        )
        assert type_from_ast(self.schema, type_node) is not None
        return ArgumentNode(name=node.name, value=VariableNode(name=NameNode(value=name)))

    def directives(self) -> tuple[DirectiveNode, ...]:
        roll = self.draw(uniform(range(16)))
        if roll >= 2:
            return ()
        directive = "include" if roll == 0 else "skip"
        if self.chance(6):
            condition = BooleanValueNode(value=self.draw(st.booleans()))
        else:
            flag = f"f{len(self.flags)}"
            self.flags.append(flag)
            self.definitions.append(
                VariableDefinitionNode(
                    variable=VariableNode(name=NameNode(value=flag)),
                    type=_type_node_named("Boolean", non_null=True),
                    default_value=None,
                    directives=(),
                )
            )
            condition = VariableNode(name=NameNode(value=flag))
        return (
            DirectiveNode(
                name=NameNode(value=directive), arguments=(ArgumentNode(name=NameNode(value="if"), value=condition),)
            ),
        )


def _nullable(type_):
    return type_.of_type if is_non_null_type(type_) else type_


def _type_node(type_):
    """The AST of a GraphQL type (`[Visibility!]`, `ID!`)."""
    return parse(f"query($x: {type_}) {{ __typename }}").definitions[0].variable_definitions[0].type


def _type_node_named(name: str, non_null: bool):
    return _type_node(f"{name}!" if non_null else name)


def generated_operations(schema: GraphQLSchema, town: Town, mutations: bool = False) -> st.SearchStrategy[Generated]:
    """Dressed documents over the Query type (or the Mutation type), with their variants. Half
    of them select one root field, each as likely as the others; the rest any of them."""
    scalars, by_name = scalar_strategies(town), argument_strategies(town)
    make = hypothesis_graphql.mutations if mutations else hypothesis_graphql.queries
    root = schema.mutation_type if mutations else schema.query_type
    one_field_each = [
        make(schema, fields=[name], custom_scalars=scalars, print_ast=lambda document: document) for name in root.fields
    ]
    any_fields = make(schema, custom_scalars=scalars, print_ast=lambda document: document)
    documents = st.one_of(any_fields, uniform(one_field_each).flatmap(lambda chosen: chosen))

    @st.composite
    def dressed(draw) -> Generated:
        return Dresser(schema, draw, scalars, by_name).dress(draw(documents))

    return dressed()
