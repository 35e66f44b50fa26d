"""The one way a mutation runs: logged in (unless it says otherwise), in one
transaction, with the request's loader caches dropped afterwards so the payload
shows what was just written."""

from __future__ import annotations

import graphene
from django.db import transaction

from ..context import require_viewer


class CalendarMutation(graphene.relay.ClientIDMutation):
    class Meta:
        abstract = True

    requires_viewer = True

    @classmethod
    def mutate_and_get_payload(cls, root, info, **data):
        viewer = require_viewer(info) if cls.requires_viewer else None
        info.context.loaders.clear()
        with transaction.atomic():
            payload = cls.perform(info, viewer, **data)
        info.context.loaders.clear()
        return payload

    @classmethod
    def perform(cls, info, viewer, **data):
        raise NotImplementedError
