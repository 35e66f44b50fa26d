"""DataLoaders: one SQL query per loader per level of a GraphQL query.

Each loader lives for one HTTP request (see `LoaderRegistry`); its batch
function runs the SQL, starting from the visibility rules of `calendarapp.rules`.
"""
