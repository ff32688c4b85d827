from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Count, F

from catalog.models import Genre, Keyword, Movie, Tag
from nexus.versions import VersionsBumpedOnChange


class DecadeListFilter(admin.SimpleListFilter):
    """Years grouped by decade: a filter listing each of a century of years would be too long to use."""

    title = "decade"
    parameter_name = "decade"

    def lookups(self, request, model_admin):
        decades = (
            Movie.objects.exclude(year=None)
            .annotate(decade=F("year") / 10 * 10)
            .values_list("decade", flat=True)
            .distinct()
            .order_by("-decade")
        )
        return [(str(decade), f"{decade}s") for decade in decades]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        try:
            first_year = int(self.value())
        except ValueError as error:
            raise IncorrectLookupParameters(f"{self.value()!r} is not a decade") from error
        return queryset.filter(year__gte=first_year, year__lt=first_year + 10)


@admin.register(Movie)
class MovieAdmin(VersionsBumpedOnChange, admin.ModelAdmin):
    list_display = ("title", "year", "genre_names", "rating_count", "mean_rating", "popularity_score")
    list_filter = ("genres", DecadeListFilter, "original_language")
    # Words match titles; a number or an IMDb id matches the movie's MovieLens, TMDb or IMDb id.
    search_fields = ("title", "movielens_title", "movielens_id__exact", "tmdb_id__exact", "imdb_id__iexact")
    search_help_text = "Title words, or a MovieLens, TMDb or IMDb id."
    filter_horizontal = ("genres",)
    autocomplete_fields = ("keywords",)
    # Kept exact by users.statistics.movie_stats_refresh from the ratings: an edit here would be overwritten.
    readonly_fields = ("rating_count", "rating_mean", "bayesian_rating", "popularity")
    fieldsets = (
        (None, {"fields": ("title", "movielens_title", "year", "release_date", "genres")}),
        ("Identifiers", {"fields": ("movielens_id", "tmdb_id", "imdb_id")}),
        (
            "TMDb metadata",
            {
                "fields": (
                    "overview",
                    "runtime",
                    "original_language",
                    "poster_path",
                    "keywords",
                    "tmdb_popularity",
                    "tmdb_vote_count",
                    "tmdb_vote_average",
                )
            },
        ),
        ("Nexus statistics", {"fields": readonly_fields}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("genres")

    @admin.display(description="genres")
    def genre_names(self, movie):
        return ", ".join(genre.name for genre in movie.genres.all())

    @admin.display(description="mean rating", ordering="rating_mean", empty_value="—")
    def mean_rating(self, movie):
        return None if movie.rating_mean is None else f"{movie.rating_mean:.2f}"

    @admin.display(description="popularity", ordering="popularity")
    def popularity_score(self, movie):
        return f"{movie.popularity:.1f}"


class MovieCountColumn:
    """A sortable "movies" column: how many movies carry the genre or keyword (one query for the page)."""

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(movie_count=Count("movies"))

    @admin.display(description="movies", ordering="movie_count")
    def movie_count(self, genre_or_keyword):
        return genre_or_keyword.movie_count


@admin.register(Genre)
class GenreAdmin(VersionsBumpedOnChange, MovieCountColumn, admin.ModelAdmin):
    list_display = ("name", "slug", "movie_count")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Keyword)
class KeywordAdmin(MovieCountColumn, admin.ModelAdmin):
    list_display = ("name", "movie_count")
    search_fields = ("name",)
    ordering = ("name",)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "movie", "user", "created_at")
    list_select_related = ("movie", "user")
    search_fields = ("name", "movie__title", "user__username")
    raw_id_fields = ("movie", "user")
    date_hierarchy = "created_at"
