"""Global IDs: opaque strings that cannot be guessed from one another.

An ID is one AES-128 block, written as URL-safe base64 without padding (22 characters):

    [format version: 1 byte][type code: 1 byte][primary key: 8 bytes, big-endian][6 zero bytes]

encrypted with a key of the server's (`GLOBAL_ID_KEY`, or one derived from `SECRET_KEY`).
Decoding decrypts and checks the version, the type code and the zero bytes: a string that
is not an ID this server made, or an ID altered in any byte, decrypts to 16 random bytes,
which pass the check about once in 2**63 (the zero bytes alone, once in 2**48), and an ID
of one type is never taken for another. So a client that holds some IDs learns nothing of
any other (consecutive primary keys give unrelated IDs) and cannot enumerate users or
events; the earlier IDs, graphql-relay's base64 of "Type:pk", are refused.

`global_id` is the only place IDs are made and `parse_global_id` the only place they are
read: graphene's `id` fields (through `schema.types.node.Node`), mutation inputs and
payloads, delta sync, export download URLs and the CSV export all go through them.

The key is fixed for the life of a process; changing it (or SECRET_KEY when GLOBAL_ID_KEY
is unset) changes every ID, so clients must sync again from nothing. Each thread keeps its
own cipher (cryptography's contexts are not thread-safe), and a `setting_changed` signal
(tests overriding the settings) makes every thread build a new one.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
import struct
import threading

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.core import checks
from django.core.signals import setting_changed
from django.dispatch import receiver

FORMAT_VERSION = 1
# A node type's code never changes once IDs of it have been given out.
TYPE_CODES = {"User": 1, "Event": 2, "FriendRequest": 3, "ExportJob": 4}
TYPE_NAMES = {code: name for name, code in TYPE_CODES.items()}
# The largest primary key a BigAutoField holds (PostgreSQL's bigint, SQLite's integer).
MAX_PK = 2**63 - 1

# The label that makes the AES key differ from any other use of the same secret.
KEY_LABEL = b"calendar.global-id.aes-128.v1"
_BLOCK = struct.Struct(">BBQ6s")
_PADDING = bytes(6)
# 22 base64url characters hold 132 bits: the last one carries 2 bits of the block and 4
# zero bits, so it is one of A, Q, g, w. Anything else is refused before decryption, which
# also keeps each ID to exactly one spelling.
_SHAPE = re.compile(r"[A-Za-z0-9_-]{21}[AQgw]")
# URL-safe base64 through binascii directly: the base64 module's wrappers cost a third more.
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def derive_key(secret: str) -> bytes:
    """The AES-128 key for a secret of any length: HMAC-SHA256 of a fixed label, cut to 16 bytes."""
    return hmac.new(secret.encode(), KEY_LABEL, hashlib.sha256).digest()[:16]


def current_key() -> bytes:
    """The AES-128 key of this server's IDs: from GLOBAL_ID_KEY, else from SECRET_KEY."""
    return derive_key(settings.GLOBAL_ID_KEY or settings.SECRET_KEY)


class _ThreadCipher(threading.local):
    """This thread's AES-128 block functions, `encrypt` and `decrypt`, set on first use in
    each thread by `_new_cipher` (not at import: settings may not be configured yet). No
    `__getattr__` here: it would slow every attribute read by a third."""


_thread_cipher = _ThreadCipher()


def _new_cipher() -> _ThreadCipher:
    cipher = Cipher(algorithms.AES(current_key()), modes.ECB())
    # ECB over exactly one block: each `update` of 16 bytes answers 16 bytes at once, and
    # the contexts are never finalized, so one pair serves every ID of the thread.
    _thread_cipher.encrypt = cipher.encryptor().update
    _thread_cipher.decrypt = cipher.decryptor().update
    return _thread_cipher


@receiver(setting_changed)
def _reset_cipher(*, setting: str, **kwargs) -> None:
    global _thread_cipher
    if setting in ("GLOBAL_ID_KEY", "SECRET_KEY"):
        _thread_cipher = _ThreadCipher()


def global_id(type_name: str, pk: int) -> str:
    """The ID the API shows for the `type_name` object with primary key `pk`."""
    if not 0 <= pk <= MAX_PK:
        raise ValueError(f"{pk} is not a primary key.")
    try:
        encrypt = _thread_cipher.encrypt
    except AttributeError:
        encrypt = _new_cipher().encrypt
    sealed = encrypt(_BLOCK.pack(FORMAT_VERSION, TYPE_CODES[type_name], pk, _PADDING))
    return binascii.b2a_base64(sealed, newline=False)[:22].translate(_TO_URLSAFE).decode()


def parse_global_id(value: object) -> tuple[str, int] | None:
    """(type name, primary key), or None for anything that is not one of our IDs."""
    if not isinstance(value, str) or not _SHAPE.fullmatch(value):
        return None
    try:
        decrypt = _thread_cipher.decrypt
    except AttributeError:
        decrypt = _new_cipher().decrypt
    block = decrypt(binascii.a2b_base64(value.encode().translate(_FROM_URLSAFE) + b"=="))
    version, code, pk, padding = _BLOCK.unpack(block)
    if version != FORMAT_VERSION or padding != _PADDING or code not in TYPE_NAMES or pk > MAX_PK:
        return None
    return TYPE_NAMES[code], pk


def check_global_id_key(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """`manage.py check --deploy`: production should keep its IDs' key apart from SECRET_KEY."""
    if settings.GLOBAL_ID_KEY:
        return []
    return [
        checks.Warning(
            "GLOBAL_ID_KEY is not set, so the API's IDs are encrypted with a key derived from SECRET_KEY: "
            "rotating SECRET_KEY would change every ID and make every client sync again.",
            hint="Set GLOBAL_ID_KEY to a random secret of at least 32 characters, kept for the life of the data.",
            id="calendar.W001",
        )
    ]
