"""The schema: the root Query and Mutation types. Nothing else builds it.

`GRAPHQL_SCHEMA` is graphql-core's schema built from it, the one every stage of a request
(validation, limits, execution) reads."""

import graphene

from . import mutations
from .queries import Query


class Mutation(graphene.ObjectType):
    signup = mutations.Signup.Field()
    login = mutations.Login.Field()
    logout = mutations.Logout.Field()
    create_event = mutations.CreateEvent.Field()
    update_event = mutations.UpdateEvent.Field()
    delete_event = mutations.DeleteEvent.Field()
    rsvp = mutations.SetRsvp.Field()
    send_friend_request = mutations.SendFriendRequest.Field()
    respond_to_friend_request = mutations.RespondToFriendRequest.Field()
    remove_friend = mutations.RemoveFriend.Field()
    request_events_export = mutations.RequestEventsExport.Field()


schema = graphene.Schema(query=Query, mutation=Mutation)
GRAPHQL_SCHEMA = schema.graphql_schema
