"""`manage.py demo_token`: print a new Bearer token for the demo user, for development only.

`make serve` prints it and hands it to GraphiQL (GRAPHIQL_TOKEN, schema/graphiql.py), so the
first page a newcomer opens already runs as the demo user. With DEBUG off it refuses: a
production server has no demo user, and its tokens come from `login`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from calendarapp.management.commands.seed_demo import POWER_USERNAME
from calendarapp.models import AuthToken, User


class Command(BaseCommand):
    help = f"Print a new token for the demo user ('{POWER_USERNAME}'); development (DEBUG) only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default=POWER_USERNAME, help=f"Whose token (default '{POWER_USERNAME}').")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_token is for development only, and DEBUG is off: log in with the login mutation.")
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user '{options['username']}': run manage.py seed_demo first.")
        self.stdout.write(AuthToken.issue(user, user_agent="manage.py demo_token"))
