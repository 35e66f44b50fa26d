"""`manage.py demo_token`, the token `make serve` prints and GraphiQL opens with: DEBUG only."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from calendarapp.models import AuthToken


def demo_token() -> str:
    out = StringIO()
    call_command("demo_token", stdout=out)
    return out.getvalue().strip()


@pytest.mark.django_db
def test_in_debug_it_prints_a_token_that_runs_as_the_demo_user(gql, settings):
    settings.DEBUG = True
    call_command("seed_demo", friends=2, events_per_day=1, days=1, stdout=StringIO())
    token = demo_token()
    answer = gql("{ viewer { username friendCount } }", token=token)
    answer.ok()
    assert answer.body["data"]["viewer"] == {"username": "power", "friendCount": 2}
    assert AuthToken.objects.get(user__username="power").user_agent == "manage.py demo_token"


@pytest.mark.django_db
def test_without_debug_it_refuses(settings, world):
    settings.DEBUG = False
    world.user("power")
    with pytest.raises(CommandError, match="development only"):
        demo_token()
    assert not AuthToken.objects.exists()


@pytest.mark.django_db
def test_without_the_demo_user_it_says_to_seed(settings):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="run manage.py seed_demo first"):
        demo_token()
