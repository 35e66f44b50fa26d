"""What every resolver gets as `info.context`: the request, its viewer, its loaders, its deadline."""

from __future__ import annotations

from functools import cached_property

from django.http import HttpRequest

from calendarapp.models import User
from config import deadline as request_deadline
from config.deadline import Deadline
from loaders.base import LoaderRegistry
from throttling.clients import client_address

from .errors import Unauthenticated


class RequestContext:
    """One per operation. The operations of one HTTP batch share their loaders
    (pass `loaders`), so they batch and cache together."""

    def __init__(
        self,
        request: HttpRequest | None,
        viewer: User | None,
        loaders: LoaderRegistry | None = None,
        optimized: bool = True,
        deadline: Deadline | None = None,
    ) -> None:
        self.request = request
        self.viewer = viewer
        # The request's time limit (config/deadline.py), checked by the executor; None: none.
        self.deadline = deadline or request_deadline.current()
        # False only in the benchmarks' naive baseline: no batching, no optimizer.
        self.optimized = optimized
        self.loaders = loaders or LoaderRegistry(self, batching=optimized)

    @cached_property
    def client_address(self) -> str:
        """Where the request comes from, as the rate limits count it."""
        return client_address(self.request)

    @property
    def client(self) -> str:
        """Who the budgets count against: the viewer, else (anonymous) the client's address."""
        return f"user:{self.viewer.pk}" if self.viewer else f"address:{self.client_address}"

    def log_in(self, user: User) -> None:
        """The rest of this operation (only) acts as `user`, with loaders of its own."""
        self.viewer = user
        self.loaders = LoaderRegistry(self, batching=self.optimized)


def require_viewer(info) -> User:
    viewer = info.context.viewer
    if viewer is None:
        raise Unauthenticated()
    return viewer
