"""What GraphiQL opens with (schema/templates/graphiql.html): props for its editors.

Everywhere, how to log in, as the demo user `manage.py seed_demo` makes. In DEBUG, the app's
home screen (tests/operations/home_screen.graphql) with its variables, and the demo user's
token in the Headers editor when `make serve` gave one (GRAPHIQL_TOKEN), so that a newcomer's
first click runs it. Never in production: DEBUG is off there, and nothing sets the token.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from calendarapp.management.commands.seed_demo import DEFAULT_PASSWORD, DEFAULT_START, POWER_USERNAME

OPENING_OPERATION = "home_screen.graphql"

LOG_IN = f"""\
# Logged in to the Django admin (/admin/)? Then this page runs queries as you.
# Otherwise log in here (the demo user of `make serve`) and copy the token:
#
#   mutation {{
#     login(input: {{username: "{POWER_USERNAME}",
#                   password: "{DEFAULT_PASSWORD}"}}) {{ token }}
#   }}
#
# then paste it into the Headers tab below:
#
#   {{"Authorization": "Bearer <token>"}}
"""

WELCOME = f"""\
# Calendar GraphQL
#
{LOG_IN}
query {{
  viewer {{
    username
    displayName
  }}
}}
"""

AS_THE_DEMO_USER = f"""\
# Calendar GraphQL (DEBUG): the app's home screen, as the demo user '{POWER_USERNAME}',
# whose token `make serve` put in the Headers tab below. Press the run button.
# extensions.debug.sqlCount in the answer: the SQL statements the request cost,
# authentication included (docs/api.md, "Debugging").
#
"""


def opening_props() -> dict[str, Any]:
    """GraphiQL's props for the page's opening: its query, and in DEBUG variables and headers."""
    if not settings.DEBUG:
        return {"defaultQuery": WELCOME}
    operation = (settings.GRAPHQL_OPERATIONS_DIR / OPENING_OPERATION).read_text(encoding="utf-8")
    props = {"query": operation, "variables": json.dumps({"date": DEFAULT_START.isoformat()}, indent=2)}
    if settings.GRAPHIQL_TOKEN:
        # Headers are kept with the tabs, so a reload finds this tab rather than opening another.
        headers = json.dumps({"Authorization": f"Bearer {settings.GRAPHIQL_TOKEN}"}, indent=2)
        props.update(query=AS_THE_DEMO_USER + operation, headers=headers, shouldPersistHeaders=True)
    else:
        props.update(query=f"# Calendar GraphQL (DEBUG): the app's home screen.\n#\n{LOG_IN}#\n{operation}")
    return props
