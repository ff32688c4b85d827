from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class Genre(models.Model):
    """A MovieLens genre ("Sci-Fi", "Film-Noir", ...). "(no genres listed)" is not a genre: such movies have none."""

    name = models.CharField(max_length=64, unique=True)
    slug = models.SlugField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Keyword(models.Model):
    """A TMDb keyword ("dystopia", "heist"), used by the content-based recommender."""

    name = models.CharField(max_length=255, unique=True)

    class Meta:
        # Filters and search match names case-insensitively (catalog/terms.py).
        indexes = [models.Index(Lower("name"), name="keyword_name_lower")]

    def __str__(self):
        return self.name


class Movie(models.Model):
    movielens_id = models.PositiveIntegerField(unique=True, help_text="MovieLens movieId.")
    tmdb_id = models.PositiveIntegerField(null=True, blank=True, db_index=True, help_text="The Movie Database id.")
    imdb_id = models.CharField(max_length=16, blank=True, db_index=True, help_text='IMDb id, e.g. "tt0114709".')
    title = models.CharField(max_length=500, db_index=True, help_text='Title for people: "The Godfather".')
    movielens_title = models.CharField(
        max_length=500, blank=True, help_text='Title as MovieLens spells it: "Godfather, The (1972)".'
    )
    year = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    release_date = models.DateField(null=True, blank=True, db_index=True)
    overview = models.TextField(blank=True)
    runtime = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True, help_text="Minutes.")
    original_language = models.CharField(max_length=16, blank=True, help_text="ISO 639-1 code.")
    poster_path = models.CharField(max_length=255, blank=True, help_text="TMDb poster path, e.g. /abc.jpg.")
    backdrop_path = models.CharField(max_length=255, blank=True, help_text="TMDb backdrop path, e.g. /abc.jpg.")
    tagline = models.CharField(max_length=500, blank=True)
    trailer_key = models.CharField(max_length=64, blank=True, help_text="YouTube key of the official trailer.")
    certification = models.CharField(
        max_length=16, blank=True, help_text="Age rating in TMDB_CERTIFICATION_COUNTRY, e.g. PG-13."
    )
    tmdb_synced_at = models.DateTimeField(null=True, blank=True, help_text="When sync_tmdb last changed it.")
    tmdb_popularity = models.FloatField(null=True, blank=True)
    tmdb_vote_count = models.PositiveIntegerField(null=True, blank=True)
    tmdb_vote_average = models.FloatField(null=True, blank=True)

    # Statistics over Nexus ratings, owned by users.statistics: each rating adds its change in O(1), and a periodic
    # recomputation from the ratings keeps them exact.
    rating_count = models.PositiveIntegerField(default=0, db_index=True)
    rating_total = models.FloatField(default=0, help_text="Sum of the scores (half stars add up exactly).")
    rating_mean = models.FloatField(null=True, blank=True, db_index=True)
    bayesian_rating = models.FloatField(default=0, db_index=True)
    popularity = models.FloatField(
        default=0, db_index=True, help_text="rating_count × bayesian_rating / 5: how many people liked it."
    )

    genres = models.ManyToManyField(Genre, related_name="movies", blank=True)
    keywords = models.ManyToManyField(Keyword, related_name="movies", blank=True)

    class Meta:
        ordering = ["-popularity", "id"]

    def __str__(self):
        return f"{self.title} ({self.year})" if self.year else self.title


class Tag(models.Model):
    """A MovieLens tag application: one user's free-text tag on one movie."""

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="tags")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "movie", "name"], name="tag_unique_per_user_movie")]
        # Filters and search match names case-insensitively (catalog/terms.py).
        indexes = [models.Index(Lower("name"), "movie", name="tag_name_lower_movie")]

    def __str__(self):
        return self.name


class Person(models.Model):
    """Someone in a movie's cast or crew, as TMDb knows them."""

    tmdb_id = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=255)
    profile_path = models.CharField(max_length=255, blank=True, help_text="TMDb profile picture path.")

    def __str__(self):
        return self.name


class Credit(models.Model):
    """A person's part in a movie: a role in its cast (in billing order) or its direction."""

    class Kind(models.TextChoices):
        CAST = "cast"
        DIRECTOR = "director"

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="credits")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="credits")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    character = models.CharField(max_length=500, blank=True)
    order = models.PositiveSmallIntegerField(default=0, help_text="Billing order (cast) or listing order.")

    class Meta:
        ordering = ["movie", "kind", "order"]
        indexes = [models.Index(fields=["movie", "kind", "order"]), models.Index(fields=["person", "movie"])]

    def __str__(self):
        return f"{self.person} in {self.movie}"


class TmdbSyncState(models.Model):
    """What sync_tmdb keeps between runs, by name: the movies a run still has to fetch (so that a crash resumes
    where it stopped), the day the last changes sync started, the image configuration."""

    name = models.CharField(max_length=64, unique=True)
    value = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.name
