"""Custom lists: a user's own named, ordered lists of movies, each private or public ("Horror night", "Best of
the 90s"). Imported by users/models.py, so that Django finds them; they name the account by its label, not by
import (users.models imports this module)."""

from django.conf import settings
from django.db import models


class CustomList(models.Model):
    """A user's named list of movies, in the order they chose. Readable by anyone when ``public``, by its owner
    alone otherwise. ``slug`` is chosen once, at creation, from the name and a random suffix, and never changes:
    links to a list keep working when it is renamed (users/custom_lists.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="custom_lists")
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(max_length=2000, blank=True)
    public = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="customlist_user_recent")]

    def __str__(self):
        return f"{self.slug} ({self.user_id})"


class CustomListEntry(models.Model):
    """A movie in a custom list, at ``position`` (0 = first; the positions of a list are 0 … n-1 at every commit),
    with the owner's note. The uniqueness of positions is checked at commit, so that one UPDATE can shift a run of
    entries by one place."""

    custom_list = models.ForeignKey(CustomList, on_delete=models.CASCADE, related_name="entries")
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    note = models.TextField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "custom list entries"
        constraints = [
            models.UniqueConstraint(fields=["custom_list", "movie"], name="customlistentry_one_per_list_movie"),
            models.UniqueConstraint(
                fields=["custom_list", "position"],
                name="customlistentry_one_per_position",
                deferrable=models.Deferrable.DEFERRED,
            ),
        ]
        indexes = [models.Index(fields=["movie", "custom_list"], name="customlistentry_movie")]

    def __str__(self):
        return f"{self.custom_list_id}[{self.position}] → {self.movie_id}"
