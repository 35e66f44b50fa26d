"""The one way a mutation runs: logged in (unless it says otherwise), with the
request's loader caches dropped around the write so the payload shows what was
just written. `CalendarExecutionContext` runs each root mutation field, payload
included, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import graphene

from ..context import require_viewer


class CalendarMutation(graphene.relay.ClientIDMutation):
    class Meta:
        abstract = True

    requires_viewer = True
    # Each mutation's classmethod `perform(info, viewer, **its input's fields)`: the write, and
    # the payload to answer.
    perform: ClassVar[Callable[..., Any]]

    @classmethod
    def mutate_and_get_payload(cls, root, info, client_mutation_id=None, **data):
        # graphene echoes client_mutation_id into the payload itself.
        viewer = require_viewer(info) if cls.requires_viewer else None
        info.context.loaders.clear()
        payload = cls.perform(info, viewer, **data)
        info.context.loaders.clear()
        return payload
