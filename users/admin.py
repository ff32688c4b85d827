from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError

from nexus.request_context import client_address
from nexus.versions import VersionsBumpedOnChange
from users import services
from users.models import Favorite, HiddenMovie, Rating, User, WatchEvent, WatchlistItem


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login through the API's login service: the same account lookup, and failures counted against
    the same per-account and per-address budgets as tokenAuth's."""

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = services.user_login(
                    username=username, password=password, client_address=client_address(self.request)
                )
            except ValidationError as exc:
                if getattr(exc, "code", None) == "invalid_credentials":
                    raise self.get_invalid_login_error() from None
                raise ValidationError(" ".join(exc.messages), code=getattr(exc, "code", "invalid")) from None
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


admin.site.login_form = AdminLoginForm


@admin.register(User)
class NexusUserAdmin(VersionsBumpedOnChange, UserAdmin):
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Profile", {"fields": ("display_name", "bio", "favorite_genres", "movielens_id")}),
    )
    list_display = ("username", "email", "display_name", "movielens_id", "is_staff", "date_joined")
    search_fields = ("username", "email", "display_name")
    filter_horizontal = (*UserAdmin.filter_horizontal, "favorite_genres")

    # Deleting through the service keeps the statistics of the movies the user rated exact.
    def delete_model(self, request, obj):
        keys = self.version_keys([obj])
        services.user_delete(user=obj)
        self.versions_bump(keys)

    def delete_queryset(self, request, queryset):
        users = list(queryset)
        keys = self.version_keys(users)
        for user in users:
            services.user_delete(user=user)
        self.versions_bump(keys)


@admin.register(Rating)
class RatingAdmin(VersionsBumpedOnChange, admin.ModelAdmin):
    """Ratings are read-only here: they change through the API's services, which keep movie statistics exact."""

    list_display = ("user", "movie", "score", "updated_at")
    list_filter = ("score",)
    list_select_related = ("user", "movie")
    raw_id_fields = ("user", "movie")
    search_fields = ("user__username", "movie__title")
    date_hierarchy = "updated_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.rating_delete(user=obj.user, movie=obj.movie)
        self.versions_bump(self.version_keys([obj]))

    def delete_queryset(self, request, queryset):
        ratings = list(queryset.select_related("user", "movie"))
        for rating in ratings:
            services.rating_delete(user=rating.user, movie=rating.movie)
        self.versions_bump(self.version_keys(ratings))


class LibraryEntryAdmin(VersionsBumpedOnChange, admin.ModelAdmin):
    list_display = ("user", "movie", "created_at")
    list_select_related = ("user", "movie")
    raw_id_fields = ("user", "movie")
    search_fields = ("user__username", "movie__title")


admin.site.register(Favorite, LibraryEntryAdmin)
admin.site.register(WatchlistItem, LibraryEntryAdmin)
admin.site.register(HiddenMovie, LibraryEntryAdmin)


@admin.register(WatchEvent)
class WatchEventAdmin(VersionsBumpedOnChange, admin.ModelAdmin):
    list_display = ("user", "movie", "watched_at")
    list_select_related = ("user", "movie")
    raw_id_fields = ("user", "movie")
    search_fields = ("user__username", "movie__title")
    date_hierarchy = "watched_at"
