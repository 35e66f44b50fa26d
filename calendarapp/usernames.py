"""Usernames: the alphabet a new one is written in, and the form in which two are compared.

A new username (at signup) is 3 to 30 ASCII letters, digits, `.`, `_` or `-`, beginning
with a letter or digit: nothing that looks like another character (a Cyrillic `а` for a
Latin `a`), nothing invisible, nothing a URL or a mention would have to escape. Usernames
made before this rule keep working whatever they hold.

Two usernames are the same name when their keys are equal: the NFKC normalization of
their case folding (Unicode's NFKC_Casefold), so `Alice`, `alice` and `ALICE` are one
name, and so are `Straße` and `strasse`. The key is stored with the user and unique in
the database; every lookup by username (login, `user(username:)`, `sendFriendRequest`)
goes through it, so usernames are case-insensitive everywhere.
"""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError

MIN_LENGTH = 3
MAX_LENGTH = 30
_NEW_USERNAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{{MIN_LENGTH - 1},{MAX_LENGTH - 1}}}")
NEW_USERNAME_RULE = (
    f"A username is {MIN_LENGTH} to {MAX_LENGTH} characters: letters a to z (either case), digits, "
    "'.', '_' or '-', beginning with a letter or a digit."
)
TAKEN = "A user with that username already exists."


def username_key(username: str) -> str:
    """The form in which usernames are compared: NFKC(casefold(NFKC(username))). The outer
    NFKC is needed because case folding can undo a normalization (Unicode's NFKC_Casefold)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


def validate_new_username(username: str) -> None:
    """Refuse a new username outside the safe alphabet (ValidationError keyed `username`)."""
    if not _NEW_USERNAME.fullmatch(username):
        raise ValidationError({"username": NEW_USERNAME_RULE})
