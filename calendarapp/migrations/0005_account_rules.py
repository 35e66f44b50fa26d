"""Account rules (issue 11): usernames unique whatever their case or Unicode form, and when a
friend request was answered (for the cooldown after a decline).

Existing usernames are kept as they are, whatever their alphabet: only their key
(calendarapp.usernames.username_key) is added. Two existing users whose names are the same
name in another case or form ("Alice" and "alice") cannot both keep them under the new rule:
the migration then stops before changing anything and lists them, to be renamed (in the admin
or `manage.py shell`) before migrating again. It never renames a user itself: a user renamed
without knowing could no longer log in.
"""

import unicodedata

from django.db import migrations, models

import calendarapp.models

BATCH_SIZE = 2000


class DuplicateUsernames(Exception):
    pass


def username_key(username: str) -> str:
    """calendarapp.usernames.username_key as of this migration (NFKC_Casefold)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


def fill_username_keys(apps, schema_editor):
    users = apps.get_model("calendarapp", "User").objects.using(schema_editor.connection.alias)
    first_holder: dict[str, tuple[int, str]] = {}
    duplicates: dict[str, list[tuple[int, str]]] = {}
    batch = []
    for user in users.only("id", "username").order_by("id").iterator(chunk_size=BATCH_SIZE):
        user.username_key = key = username_key(user.username)
        if key in first_holder:
            duplicates.setdefault(key, [first_holder[key]]).append((user.pk, user.username))
        else:
            first_holder[key] = (user.pk, user.username)
        batch.append(user)
        if len(batch) == BATCH_SIZE:
            users.bulk_update(batch, ["username_key"])
            batch = []
    users.bulk_update(batch, ["username_key"])
    if duplicates:  # raised inside the migration's transaction: everything above is undone
        raise DuplicateUsernames(duplicate_report(list(duplicates.values())))


def duplicate_report(groups: list[list[tuple[int, str]]]) -> str:
    shown = "; ".join(", ".join(f"{name!r} (id {pk})" for pk, name in group) for group in groups[:20])
    more = f"; and {len(groups) - 20} more groups" if len(groups) > 20 else ""
    return (
        f"{len(groups)} group(s) of users have the same username in another case or Unicode form, "
        f"which usernames may no longer have: {shown}{more}. Rename all but one user of each group "
        "(Django admin or manage.py shell), then migrate again. Nothing was changed."
    )


class Migration(migrations.Migration):
    dependencies = [
        ("calendarapp", "0004_auth_token_lifetime"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", calendarapp.models.CalendarUserManager()),
            ],
        ),
        migrations.AddField(
            model_name="user",
            name="username_key",
            field=models.TextField(editable=False, null=True),
        ),
        migrations.RunPython(fill_username_keys, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="user",
            name="username_key",
            field=models.TextField(editable=False),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(fields=("username_key",), name="user_username_key_unique"),
        ),
        migrations.AddField(
            model_name="friendrequest",
            name="answered_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
