"""Cost limits (schema/limits.py): a hostile query is refused with QUERY_TOO_COMPLEX, the
figure and the limit, before anything of it runs (no SQL, and as early as can be: a huge
query is never parsed, a deep one never validated), while every operation of the app and
GraphiQL's introspection pass with room to spare."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from graphql import get_introspection_query, parse

from calendarapp.models import User
from schema import limits
from schema.documents import prepare
from tests.conftest import Answer, GraphQLClient, World, utc
from tests.test_persisted_queries import PreparationSpy, by_hash, persisted, sha256
from tests.test_query_counts import OPERATIONS_DIR, VARIABLES, seed

# GraphiQL's introspection query: graphql-js's, every option on (as GraphiQL sends it).
INTROSPECTION = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)
# Generous: a refusal takes milliseconds; the bound only catches one that parses or runs.
REFUSAL_SECONDS = 1.0


pytestmark = pytest.mark.usefixtures("no_prepared_documents")


@pytest.fixture
def token(world: World, alice: User, token: str) -> str:
    """The shared alice's token, alice having a friend with an event, so a query that ran would run SQL."""
    bob = world.user("bob")
    world.befriend(alice, bob)
    world.event(bob, utc(2026, 11, 23, 9))
    return token


# The innermost selection of friends_chain, by how many fields deep it goes.
CHAIN_ENDS = {1: "id", 2: "friends { totalCount }", 3: "friends { pageInfo { hasNextPage } }"}


def friends_chain(depth: int) -> str:
    """`{ viewer { friends { edges { node { friends … } } } } }`, exactly `depth` fields deep."""
    levels, end = divmod(depth - 2, 3)  # depth = viewer + 3 per level + the end's fields
    selection = CHAIN_ENDS[end + 1]
    for _ in range(levels):
        selection = f"friends {{ edges {{ node {{ {selection} }} }} }}"
    return f"{{ viewer {{ {selection} }} }}"


NESTED_PAGES = """{ viewer { friends(first: 100) { edges { node {
  events(first: 100) { edges { node { attendees(first: 100) { edges { node { id } } } } } } } } } } }"""
# 1 + 1 (viewer, friends), ×100 (edges, node, events), ×100² (edges, node, attendees), ×100³ (edges, node, id)
NESTED_PAGES_COST = 2 + 100 * 3 + 100**2 * 3 + 100**3 * 3


def refused_with(answer: Answer, message: str, status: int = 400) -> None:
    assert answer.status == status, answer.body
    assert answer.body == {"errors": [{"message": message, "extensions": {"code": "QUERY_TOO_COMPLEX"}}]}


def timed(request) -> tuple[Answer, float]:
    started = time.perf_counter()
    answer = request()
    return answer, time.perf_counter() - started


def authentication_sql(gql: GraphQLClient, token: str) -> list[str]:
    """The SQL of authenticating `token` alone: all a refused request may run."""
    return [query["sql"] for query in gql("{ __typename }", token=token).queries]


class TestHostileQueries:
    def test_depth_30_is_refused_before_validation_and_runs_no_sql(self, gql, token, monkeypatch):
        spy = PreparationSpy(monkeypatch)
        answer, seconds = timed(lambda: gql(friends_chain(30), token=token))
        refused_with(answer, "Query depth 30 exceeds the limit of 12.")
        assert spy.validated == 0
        assert [query["sql"] for query in answer.queries] == authentication_sql(gql, token)
        assert seconds < REFUSAL_SECONDS

    def test_5_mb_query_is_refused_without_being_parsed(self, gql, token, monkeypatch):
        spy = PreparationSpy(monkeypatch)
        query = "{ viewer { id } }" + " " * (5 * 1024 * 1024)
        answer, seconds = timed(lambda: gql(query, token=token))
        size = len(json.dumps({"query": query, "variables": {}}))
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        refused_with(answer, f"Request body size {size:,} bytes exceeds the limit of {limit:,} bytes.", 413)
        assert (spy.parsed, answer.queries) == (0, [])
        assert seconds < REFUSAL_SECONDS

    def test_100_by_100_by_100_pages_are_refused_on_their_cost_and_run_no_sql(self, gql, token):
        answer, seconds = timed(lambda: gql(NESTED_PAGES, token=token))
        refused_with(answer, f"Query cost {NESTED_PAGES_COST:,} exceeds the limit of 100,000.")
        assert NESTED_PAGES_COST == 3_030_302
        assert [query["sql"] for query in answer.queries] == authentication_sql(gql, token)
        assert seconds < REFUSAL_SECONDS

    def test_query_over_the_size_limit_is_refused_before_hashing_or_parsing(self, gql, monkeypatch):
        spy = PreparationSpy(monkeypatch)
        query = "{ viewer { id } }" + " " * 100_000
        message = f"Query size {len(query):,} bytes exceeds the limit of 65,536 bytes."
        refused_with(gql(query), message)
        refused_with(gql.post(by_hash(query, with_query=True)), message)
        assert spy.parsed == 0
        assert gql.post({"extensions": persisted(sha256(query))}).codes == ["PERSISTED_QUERY_NOT_FOUND"]

    def test_size_counts_bytes_not_characters(self, gql):
        query = "{ viewer { id } } # " + "é" * 40_000  # 40,000 characters, 80,000 bytes
        refused_with(gql(query), f"Query size {len(query.encode()):,} bytes exceeds the limit of 65,536 bytes.")

    def test_query_over_the_token_limit_is_refused_without_being_parsed(self, gql, monkeypatch):
        spy = PreparationSpy(monkeypatch)
        query = "{ viewer { " + " ".join(f"a{index}: id" for index in range(400)) + " } }"
        refused_with(gql(query), "Query has more than 1,000 tokens, the limit.")
        assert spy.parsed == 0

    def test_nesting_beyond_what_the_parser_can_follow_is_refused_without_a_crash(self, gql, monkeypatch):
        spy = PreparationSpy(monkeypatch)
        refused_with(gql("{" + "viewer {" * 300 + "id" + "}" * 301), "Query nesting 301 exceeds the limit of 64.")
        list_value = "[" * 300 + '"a"' + "]" * 300
        refused_with(gql("{ user(username: " + list_value + ") { id } }"), "Query nesting 302 exceeds the limit of 64.")
        assert spy.parsed == 0

    def test_too_many_aliases(self, gql):
        query = "{ viewer { " + " ".join(f"name{index}: displayName" for index in range(21)) + " } }"
        refused_with(gql(query), "Query has 21 aliases, over the limit of 20.")
        assert gql("{ viewer { " + " ".join(f"name{index}: displayName" for index in range(20)) + " } }").status == 200

    def test_aliases_are_counted_in_fragments_and_inline_fragments_too(self, gql):
        aliases = " ".join(f"name{index}: displayName" for index in range(11))
        query = f"{{ viewer {{ ...Names ... on User {{ {aliases} }} }} }} fragment Names on User {{ {aliases} }}"
        refused_with(gql(query), "Query has 22 aliases, over the limit of 20.")

    def test_a_field_repeated_too_often_is_refused_before_validation(self, gql, monkeypatch):
        spy = PreparationSpy(monkeypatch)
        inline = " ".join("... on User { id }" for _ in range(6))
        answer, seconds = timed(lambda: gql("{ viewer { id id id id id " + inline + " } }"))
        refused_with(answer, "Field 'id' is selected 11 times in one selection, over the limit of 10.")
        assert spy.validated == 0
        assert seconds < REFUSAL_SECONDS

    def test_depth_is_followed_through_fragments_and_inline_fragments(self, gql, monkeypatch):
        spy = PreparationSpy(monkeypatch)
        query = """
            query Deep { viewer { ...Level1 } }
            fragment Level1 on User { friends { edges { node { ...Level2 } } } }
            fragment Level2 on User { ... on User { friends { edges { node { ...Level3 } } } } }
            fragment Level3 on User { friends { edges { node { id } } } }
        """
        with override_settings(GRAPHQL_MAX_DEPTH=10):
            refused_with(gql(query), "Query depth 11 exceeds the limit of 10.")
        assert spy.validated == 0
        assert gql(query).status == 200  # 11 is within the default limit of 12

    def test_a_fragment_cycle_is_a_validation_error_not_a_crash(self, gql):
        query = """
            { viewer { ...A } }
            fragment A on User { friends { edges { node { ...B } } } }
            fragment B on User { ...A }
        """
        answer = gql(query)
        assert answer.status == 400 and answer.codes == ["BAD_REQUEST"], answer.body
        assert "Cannot spread fragment 'A' within itself via 'B'." in answer.errors[0]["message"]

    def test_a_long_fragment_chain_is_measured_without_recursion(self):
        chain = " ".join(f"fragment F{index} on User {{ ...F{index + 1} }}" for index in range(3_000))
        document = parse("{ viewer { ...F0 } } " + chain + " fragment F3000 on User { friends { totalCount } }")
        assert limits.document_depth(document) == 3

    def test_introspection_that_recurses_through_types_is_refused(self, gql):
        query = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
        answer = gql(query)
        assert answer.status == 400 and answer.codes == ["QUERY_TOO_COMPLEX"], answer.body
        assert (
            answer.errors[0]["message"] == "Introspection nests lists of fields or types 3 deep, over the limit of 2."
        )

    def test_each_operation_of_a_batch_is_checked_on_its_own(self, gql, token):
        answer = gql.post([{"query": "{ viewer { username } }"}, {"query": NESTED_PAGES}], token=token)
        assert answer.status == 200
        allowed, refused = answer.body
        assert allowed == {"data": {"viewer": {"username": "alice"}}}
        assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


class TestCostWithVariables:
    QUERY = """query Pages($first: Int) { viewer { friends(first: $first) { edges { node {
        events(first: $first) { edges { node { attendees(first: $first) { edges { node { id } } } } } } } } } } }"""

    def test_page_sizes_given_by_variables_are_read_per_request(self, gql, token, monkeypatch):
        answer = gql(self.QUERY, {"first": 100}, token=token)
        refused_with(answer, f"Query cost {NESTED_PAGES_COST:,} exceeds the limit of 100,000.")
        spy = PreparationSpy(monkeypatch)
        answer = gql(self.QUERY, {"first": 5}, token=token)
        assert answer.ok()["viewer"]["friends"]["edges"][0]["node"]["events"]["edges"]
        assert spy.parsed == 0  # the same document, its cost plan applied to other variables

    def test_a_variable_default_counts_when_the_variable_is_not_given(self, gql):
        query = self.QUERY.replace("$first: Int", "$first: Int = 100")
        refused_with(gql(query), f"Query cost {NESTED_PAGES_COST:,} exceeds the limit of 100,000.")

    def test_a_missing_first_counts_as_the_default_page_size(self):
        query = "{ viewer { friends { edges { node { events { edges { node { id } } } } } } } }"
        assert estimated_cost(query) == 2 + 20 * 3 + 20 * 20 * 3

    def test_page_sizes_count_at_most_the_maximum_page_size(self):
        """Over the maximum, the resolver refuses `first` as BAD_USER_INPUT: the cost does not."""
        query = "query($first: Int) { viewer { friends(first: $first) { edges { node { id } } } } }"
        assert estimated_cost(query, {"first": 1_000_000}) == 2 + 100 * 3
        assert estimated_cost(query, {"first": -5}) == 2
        assert estimated_cost(query, {"first": "many"}) == 2 + 20 * 3

    def test_changes_pages_by_its_own_default_and_maximum(self):
        query = """query($first: Int) { changes(first: $first) {
            cursor events { id attendees(first: 100) { edges { node { id } } } } } }"""
        assert estimated_cost(query) == 1 + 100 * (4 + 100 * 3)
        assert estimated_cost(query, {"first": 10_000}) == 1 + 500 * (4 + 100 * 3)

    def test_fragments_multiply_by_the_pages_around_their_spreads(self):
        query = """{ viewer { friends(first: 10) { edges { node { ...Day } } } } }
                   fragment Day on User { events(first: 5) { edges { node { id title } } } }"""
        assert estimated_cost(query) == 2 + 10 * (3 + 5 * 4)


def estimated_cost(query: str, variables: dict | None = None) -> int:
    prepared = prepare(query)
    assert prepared.document is not None, prepared.errors
    [cost] = prepared.costs.values()
    return cost.estimate(variables)


class TestWhatTheAppSends:
    @pytest.mark.django_db
    @pytest.mark.parametrize("operation", sorted(VARIABLES))
    def test_every_operation_passes_with_room_to_spare(self, operation):
        power, _ = seed(3)
        query = (OPERATIONS_DIR / f"{operation}.graphql").read_text()
        prepared = prepare(query)
        assert prepared.document is not None, prepared.errors
        [cost] = prepared.costs.values()
        assert limits.document_depth(prepared.document) + 3 <= settings.GRAPHQL_MAX_DEPTH
        assert cost.estimate(VARIABLES[operation](power)) * 3 <= settings.GRAPHQL_MAX_COST
        worst_variables = {page_size.variable: 10**9 for page_size in cost.page_sizes if page_size.variable}
        assert cost.estimate(worst_variables) * 3 <= settings.GRAPHQL_MAX_COST
        assert len(query.encode()) * 10 <= settings.GRAPHQL_MAX_QUERY_BYTES

    def test_graphiql_introspection_passes(self, gql):
        answer = gql(INTROSPECTION)
        assert answer.ok()["__schema"]["queryType"] == {"name": "Query"}
        prepared = prepare(INTROSPECTION)
        assert prepared.document is not None
        [cost] = prepared.costs.values()
        assert cost.estimate(None) * 10 <= settings.GRAPHQL_MAX_COST

    def test_introspection_does_not_count_towards_depth(self):
        """GraphiQL's query is 13 fields deep through its TypeRef fragment."""
        assert limits.document_depth(parse(INTROSPECTION)) == 1

    def test_every_operation_file_is_covered(self):
        assert {path.stem for path in Path(OPERATIONS_DIR).glob("*.graphql")} == set(VARIABLES)
