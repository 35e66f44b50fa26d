"""The GraphQL layer: types, queries, mutations, and the HTTP view that serves them."""
