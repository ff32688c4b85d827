from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower

# Scores are half stars from 0.5 to 5.0.
RATING_SCORES = tuple(Decimal(half) / 2 for half in range(1, 11))


class User(AbstractUser):
    """A Nexus account. Imported MovieLens users are real users too (``movielens-<id>``, unusable password)."""

    email = models.EmailField(blank=True)
    display_name = models.CharField(max_length=100, blank=True)
    bio = models.TextField(max_length=2000, blank=True)
    favorite_genres = models.ManyToManyField("catalog.Genre", blank=True, related_name="fans")
    movielens_id = models.PositiveIntegerField(null=True, blank=True, unique=True, help_text="MovieLens userId.")

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
            models.UniqueConstraint(Lower("email"), condition=~models.Q(email=""), name="user_email_ci_unique"),
        ]


class Rating(models.Model):
    """One user's score for one movie, 0.5 to 5.0 in half steps."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="ratings")
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="ratings")
    score = models.DecimalField(max_digits=2, decimal_places=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "movie"], name="rating_one_per_user_movie"),
            models.CheckConstraint(condition=models.Q(score__in=RATING_SCORES), name="rating_score_half_steps"),
        ]
        indexes = [
            models.Index(fields=["user", "-updated_at"], name="rating_user_recent"),
            models.Index(fields=["-updated_at"], name="rating_recent"),
        ]

    def __str__(self):
        return f"{self.user_id} → {self.movie_id}: {self.score}"


class LibraryEntry(models.Model):
    """A movie a user put in one of their lists; at most once per list."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.user_id} → {self.movie_id}"


class Favorite(LibraryEntry):
    class Meta(LibraryEntry.Meta):
        constraints = [models.UniqueConstraint(fields=["user", "movie"], name="favorite_one_per_user_movie")]
        indexes = [models.Index(fields=["user", "-created_at"], name="favorite_user_recent")]


class WatchlistItem(LibraryEntry):
    class Meta(LibraryEntry.Meta):
        constraints = [models.UniqueConstraint(fields=["user", "movie"], name="watchlist_one_per_user_movie")]
        indexes = [models.Index(fields=["user", "-created_at"], name="watchlist_user_recent")]


class HiddenMovie(LibraryEntry):
    """ "Not interested": never recommend this movie to this user again."""

    class Meta(LibraryEntry.Meta):
        constraints = [models.UniqueConstraint(fields=["user", "movie"], name="hidden_one_per_user_movie")]


class WatchEvent(models.Model):
    """One viewing. Watching a movie again adds another event."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="watch_events")
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="+")
    watched_at = models.DateTimeField()

    class Meta:
        ordering = ["-watched_at", "-id"]
        indexes = [models.Index(fields=["user", "-watched_at"], name="watchevent_user_recent")]

    def __str__(self):
        return f"{self.user_id} watched {self.movie_id} at {self.watched_at:%Y-%m-%d %H:%M}"
