from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from . import services, tokens
from .models import AuthToken, Event, FriendRequest, Friendship, Rsvp, User

# What the admin shows of a token: which device, and its lifetime; never its hash.
TOKEN_FIELDS = ("user_agent", "created_at", "last_used_at", "expires_at", "revoked_at", "status")
TOKEN_STATUS = {
    None: "active",
    tokens.Refusal.EXPIRED: "expired",
    tokens.Refusal.REVOKED: "revoked",
    tokens.Refusal.INVALID: "user inactive",
}


def token_status(token: AuthToken) -> str:
    return TOKEN_STATUS[tokens.refusal_of(token, timezone.now())]


class RevokeTokenForm(forms.ModelForm):
    """A token on its user's page: shown, and revoked when "Revoke" is ticked (nothing else changes)."""

    revoke = forms.BooleanField(required=False, help_text="Log this device out.")

    class Meta:
        model = AuthToken
        fields = ()

    def save(self, commit: bool = True) -> AuthToken:
        if self.cleaned_data.get("revoke"):
            AuthToken.objects.filter(pk=self.instance.pk).revoke()
        return self.instance

    def save_m2m(self) -> None:  # the formset calls it after save(commit=False): nothing to save
        pass


class AuthTokenInline(admin.TabularInline):
    """The user's tokens, one per device they logged in on, most recently used first."""

    model = AuthToken
    form = RevokeTokenForm
    fields = (*TOKEN_FIELDS, "revoke")
    readonly_fields = TOKEN_FIELDS
    ordering = ("-last_used_at", "-pk")
    extra = 0
    can_delete = False
    verbose_name = "token (device)"
    verbose_name_plural = "tokens (devices): last use is recorded at most once a day"

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="status")
    def status(self, token: AuthToken) -> str:
        return token_status(token)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, not edited: a friendship is two rows made and ended together, an RSVP changes
    its event for delta sync, and a token is made by `login` or `signup` only; the API keeps
    them right."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class CalendarUserAdmin(UserAdmin):
    fieldsets = UserAdmin.fieldsets + (("Calendar", {"fields": ("display_name", "timezone", "avatar_url")}),)
    list_display = ("username", "display_name", "timezone", "is_staff")
    search_fields = ("username", "display_name")
    inlines = (AuthTokenInline,)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # avatar_url, as Django 6 will
    actions = ("revoke_all_tokens",)

    @admin.action(description="Revoke every token of the selected users (log out all their devices)")
    def revoke_all_tokens(self, request, queryset):
        revoked = AuthToken.objects.filter(user__in=queryset).revoke()
        self.message_user(request, f"Revoked {revoked} tokens.", messages.SUCCESS)


class TokenStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return (("active", "active"), ("ended", "expired or revoked"))

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.live(now)
        if self.value() == "ended":
            return queryset.filter(Q(expires_at__lte=now) | Q(revoked_at__isnull=False))
        return queryset


@admin.register(AuthToken)
class AuthTokenAdmin(ReadOnlyAdmin):
    """Every token, to find and revoke devices. Tokens are made by `login` and `signup` only,
    and deleted by the sweep once ended; revoking is the one change made here."""

    list_display = ("user", *TOKEN_FIELDS)
    list_filter = (TokenStatusFilter,)
    list_select_related = ("user",)
    search_fields = ("user__username",)
    fields = ("user", *TOKEN_FIELDS)
    readonly_fields = fields
    ordering = ("-last_used_at", "-pk")
    actions = ("revoke_selected",)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("calendarapp.change_authtoken")

    @admin.action(description="Revoke selected tokens", permissions=("revoke",))
    def revoke_selected(self, request, queryset):
        revoked = queryset.revoke()
        self.message_user(request, f"Revoked {revoked} tokens.", messages.SUCCESS)

    @admin.display(description="status")
    def status(self, token: AuthToken) -> str:
        return token_status(token)


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
