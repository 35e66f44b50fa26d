"""What every resolver gets as `info.context`: the request, its viewer, its loaders, its deadline."""

from __future__ import annotations

from functools import cached_property

from django.http import HttpRequest

from calendarapp.models import AuthToken, User
from config import deadline as request_deadline
from config.deadline import Deadline
from loaders.base import LoaderRegistry
from throttling.clients import client_address

from .auth import ANONYMOUS, Credentials
from .errors import Unauthenticated


class RequestContext:
    """One per operation. The operations of one HTTP batch share their loaders
    (pass `loaders`), so they batch and cache together.

    `loader_registry` is the class of its loaders' registry: the benchmarks' naive baseline
    (bench/naive.py) gives its own, which does not batch."""

    loader_registry: type[LoaderRegistry] = LoaderRegistry

    def __init__(
        self,
        request: HttpRequest | None,
        credentials: Credentials = ANONYMOUS,
        loaders: LoaderRegistry | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        self.request = request
        self.credentials = credentials
        self.viewer: User | None = credentials.viewer
        # The token this operation acts with: the request's, or the one `login` issued in it.
        self.token: AuthToken | None = credentials.token
        self.by_session = credentials.by_session
        # Set by `logout` when it ended the request's own token or session: the operations
        # after this one in the same batch are then anonymous (schema/view.py).
        self.ended_request_credentials = False
        # The request's time limit (config/deadline.py), checked by the executor; None: none.
        self.deadline = deadline or request_deadline.current()
        self.loaders = loaders or self.loader_registry(self)

    @cached_property
    def client_address(self) -> str:
        """Where the request comes from, as the rate limits count it."""
        return client_address(self.request)

    @property
    def client(self) -> str:
        """Who the budgets count against: the viewer, else (anonymous) the client's address."""
        return f"user:{self.viewer.pk}" if self.viewer else f"address:{self.client_address}"

    def log_in(self, user: User, token: AuthToken) -> None:
        """The rest of this operation (only) acts as `user` with `token`, with loaders of its own."""
        self.viewer, self.token, self.by_session = user, token, False
        self.loaders = self.loader_registry(self)

    def log_out(self, ended_request_credentials: bool) -> None:
        """The rest of this operation acts as no one; so does the rest of the batch if this
        ended the token or session the request came with (`ended_request_credentials`)."""
        self.ended_request_credentials = self.ended_request_credentials or ended_request_credentials
        self.viewer, self.token, self.by_session = None, None, False
        self.loaders = self.loader_registry(self)


def require_viewer(info) -> User:
    return logged_in_viewer(info.context)


def logged_in_viewer(context: RequestContext) -> User:
    """The context's viewer; UNAUTHENTICATED when no one is logged in."""
    viewer = context.viewer
    if viewer is None:
        raise Unauthenticated()
    return viewer
