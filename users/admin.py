from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from users import services
from users.models import Favorite, HiddenMovie, Rating, User, WatchEvent, WatchlistItem


@admin.register(User)
class NexusUserAdmin(UserAdmin):
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Profile", {"fields": ("display_name", "bio", "favorite_genres", "movielens_id")}),
    )
    list_display = ("username", "email", "display_name", "movielens_id", "is_staff", "date_joined")
    search_fields = ("username", "email", "display_name")
    filter_horizontal = (*UserAdmin.filter_horizontal, "favorite_genres")

    # Deleting through the service keeps the statistics of the movies the user rated exact.
    def delete_model(self, request, obj):
        services.user_delete(user=obj)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            services.user_delete(user=user)


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
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

    def delete_queryset(self, request, queryset):
        for rating in queryset.select_related("user", "movie"):
            services.rating_delete(user=rating.user, movie=rating.movie)


class LibraryEntryAdmin(admin.ModelAdmin):
    list_display = ("user", "movie", "created_at")
    list_select_related = ("user", "movie")
    raw_id_fields = ("user", "movie")
    search_fields = ("user__username", "movie__title")


admin.site.register(Favorite, LibraryEntryAdmin)
admin.site.register(WatchlistItem, LibraryEntryAdmin)
admin.site.register(HiddenMovie, LibraryEntryAdmin)


@admin.register(WatchEvent)
class WatchEventAdmin(admin.ModelAdmin):
    list_display = ("user", "movie", "watched_at")
    list_select_related = ("user", "movie")
    raw_id_fields = ("user", "movie")
    search_fields = ("user__username", "movie__title")
    date_hierarchy = "watched_at"
