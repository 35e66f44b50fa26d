from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Event, FriendRequest, Friendship, Rsvp, User


@admin.register(User)
class CalendarUserAdmin(UserAdmin):
    fieldsets = UserAdmin.fieldsets + (("Calendar", {"fields": ("display_name", "timezone", "avatar_url")}),)
    list_display = ("username", "display_name", "timezone", "is_staff")
    search_fields = ("username", "display_name")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "starts_at", "ends_at", "visibility")
    list_filter = ("visibility",)
    search_fields = ("title",)
    raw_id_fields = ("owner",)


@admin.register(FriendRequest)
class FriendRequestAdmin(admin.ModelAdmin):
    list_display = ("from_user", "to_user", "status", "created_at")
    raw_id_fields = ("from_user", "to_user")


@admin.register(Friendship)
class FriendshipAdmin(admin.ModelAdmin):
    list_display = ("user", "friend", "created_at")
    raw_id_fields = ("user", "friend")


@admin.register(Rsvp)
class RsvpAdmin(admin.ModelAdmin):
    list_display = ("event", "user", "status")
    raw_id_fields = ("event", "user")
