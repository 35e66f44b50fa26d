from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db import transaction

from . import services
from .models import Event, FriendRequest, Friendship, Rsvp, User


@admin.register(User)
class CalendarUserAdmin(UserAdmin):
    fieldsets = UserAdmin.fieldsets + (("Calendar", {"fields": ("display_name", "timezone", "avatar_url")}),)
    list_display = ("username", "display_name", "timezone", "is_staff")
    search_fields = ("username", "display_name")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Events saved and deleted here go through the same services as the API's, so devices
    hear of them in their next delta sync."""

    list_display = ("title", "owner", "starts_at", "ends_at", "visibility")
    list_filter = ("visibility",)
    search_fields = ("title",)
    raw_id_fields = ("owner",)
    exclude = ("change_seq", "shown_seq", "hidden_seq")

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        services.save_event(obj)

    @transaction.atomic
    def delete_model(self, request, obj):
        services.remove_event(obj)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for event in queryset.order_by("pk"):
            services.remove_event(event)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, not edited: a friendship is two rows made and ended together, and an RSVP
    changes its event for delta sync; the API's mutations keep both right."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(FriendRequest)
class FriendRequestAdmin(ReadOnlyAdmin):
    list_display = ("from_user", "to_user", "status", "created_at")
    raw_id_fields = ("from_user", "to_user")


@admin.register(Friendship)
class FriendshipAdmin(ReadOnlyAdmin):
    list_display = ("user", "friend", "created_at")
    raw_id_fields = ("user", "friend")


@admin.register(Rsvp)
class RsvpAdmin(ReadOnlyAdmin):
    list_display = ("event", "user", "status")
    raw_id_fields = ("event", "user")
