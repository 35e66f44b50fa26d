"""The address a request comes from, for the limits that count by client.

Behind the platform's router, the socket's peer is the router: the client's address is what
the router appended to `X-Forwarded-For`. Each proxy appends the address it was reached
from, so only the last TRUSTED_PROXY_COUNT entries were written by proxies we trust; what
comes before them the client may have written itself, to pose as someone else. With
TRUSTED_PROXY_COUNT = 0 (no proxy in front), the header is ignored.

IPv6 clients are counted by their /64 network: one subscriber commonly holds all of one.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

UNKNOWN = "unknown"


def client_address(request: HttpRequest | None) -> str:
    """The client's address as the limits count it ("unknown" when there is no request)."""
    if request is None:
        return UNKNOWN
    return _counted_as(_trusted_address(request.META))


def _trusted_address(meta: dict) -> str:
    hops = settings.TRUSTED_PROXY_COUNT
    peer = meta.get("REMOTE_ADDR") or UNKNOWN
    if hops <= 0:
        return peer
    forwarded = [entry.strip() for entry in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
    # The last `hops` entries were appended by our proxies; the nearest of them wrote the
    # address it was reached from. With fewer entries than proxies, the header is not ours.
    if len(forwarded) < hops:
        return peer
    return forwarded[-hops]


def _counted_as(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or UNKNOWN  # not an address: counted as given, never trusted further
    if parsed.version == 6:
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
