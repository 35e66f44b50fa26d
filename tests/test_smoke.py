"""The home screen end to end, as the mobile app sends it."""

from __future__ import annotations

from tests.conftest import utc


def test_home_screen_shows_friends_and_their_days_events(gql, world):
    power = world.user("power", timezone="Europe/Paris")
    alice = world.user("alice")
    world.befriend(power, alice)
    event = world.event(alice, utc(2026, 11, 23, 9), title="Standup")
    world.rsvp(power, event)
    token = world.token(power)

    data = gql(
        """query($date: Date!) { viewer { friends(first: 10) { totalCount edges { node { username
             events(date: $date) { totalCount edges { node { title owner { username } attendeeCount viewerRsvp } } }
           } } } } }""",
        {"date": "2026-11-23"},
        token=token,
    ).ok()

    friends = data["viewer"]["friends"]
    assert friends["totalCount"] == 1
    alice_node = friends["edges"][0]["node"]
    assert alice_node["username"] == "alice"
    assert alice_node["events"]["edges"] == [
        {"node": {"title": "Standup", "owner": {"username": "alice"}, "attendeeCount": 1, "viewerRsvp": "GOING"}}
    ]
