"""The catalog artifact: what ties a model's columns to the database (movie ids, their genres, the content
features' vocabulary), read from the catalog with the item features the hybrid model learns from, and saved next
to each model (``recommender.model_files``)."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from catalog.models import Genre, Movie, Tag
from recommender.algorithms.base import pack_csr, unpack_csr
from recommender.algorithms.content import GENRE, KEYWORD, TAG, ItemFeatures, feature_tokens
from recommender.interactions_db import record_array


@dataclass(frozen=True)
class Catalog:
    """What ties a model's columns to the database: the movie id of each column, the genres of each movie, and
    the content features' vocabulary (to place declared favorite genres). Saved next to each model."""

    item_ids: np.ndarray
    genre_ids: np.ndarray
    genre_names: np.ndarray
    item_genres: sp.csr_matrix  # columns × genres (genre_ids order), 1 where the movie has the genre
    vocabulary: np.ndarray

    def save(self, path: Path) -> None:
        np.savez(
            path,
            item_ids=self.item_ids,
            genre_ids=self.genre_ids,
            genre_names=self.genre_names,
            vocabulary=self.vocabulary,
            **pack_csr("item_genres", self.item_genres),
        )

    @classmethod
    def load(cls, path: Path) -> "Catalog":
        with np.load(path, allow_pickle=False) as saved:
            arrays = dict(saved)
        return cls(
            item_ids=arrays["item_ids"],
            genre_ids=arrays["genre_ids"],
            genre_names=arrays["genre_names"],
            item_genres=unpack_csr("item_genres", arrays),
            vocabulary=arrays["vocabulary"],
        )

    def declared_genres(self, genre_ids_per_user: list[np.ndarray]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Users' declared favorite genres, as users × content features (for the model) and users × genres."""
        columns = [np.searchsorted(self.genre_ids, ids) for ids in genre_ids_per_user]
        features = ItemFeatures(matrix=sp.csr_matrix((0, len(self.vocabulary))), vocabulary=self.vocabulary)
        as_features = features.user_matrix([feature_tokens(GENRE, self.genre_names[cols]) for cols in columns])
        rows = np.repeat(np.arange(len(columns)), [len(cols) for cols in columns])
        flat = np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64)
        as_genres = sp.csr_matrix(
            (np.ones(len(flat), dtype=np.float32), (rows, flat)), shape=(len(columns), len(self.genre_ids))
        )
        return as_features, as_genres


def catalog_load() -> tuple[Catalog, ItemFeatures]:
    """The catalog as it is now: every movie (one model column each), genres, MovieLens tags and TMDb keywords."""
    item_ids = record_array(Movie.objects.order_by("pk").values_list("pk", flat=True), np.dtype("<i8"))
    genres = record_array(
        Genre.objects.order_by("pk").values_list("pk", "name"), np.dtype([("pk", "<i8"), ("name", "O")])
    )
    movie_genres = record_array(
        Movie.genres.through.objects.values_list("movie_id", "genre_id"),
        np.dtype([("movie", "<i8"), ("genre", "<i8")]),
    )
    named = np.dtype([("movie", "<i8"), ("name", "O")])
    tags = record_array(Tag.objects.values_list("movie_id", "name"), named)
    keywords = record_array(Movie.keywords.through.objects.values_list("movie_id", "keyword__name"), named)

    genre_columns = np.searchsorted(genres["pk"], movie_genres["genre"])
    item_genres = sp.csr_matrix(
        (
            np.ones(len(movie_genres), dtype=np.float32),
            (np.searchsorted(item_ids, movie_genres["movie"]), genre_columns),
        ),
        shape=(len(item_ids), len(genres)),
    )
    features = ItemFeatures.from_pairs(
        item_columns=np.searchsorted(
            item_ids, np.concatenate([movie_genres["movie"], tags["movie"], keywords["movie"]])
        ),
        tokens=np.concatenate(
            [
                feature_tokens(GENRE, genres["name"][genre_columns]),
                feature_tokens(TAG, tags["name"]),
                feature_tokens(KEYWORD, keywords["name"]),
            ]
        ),
        n_items=len(item_ids),
    )
    catalog = Catalog(
        item_ids=item_ids,
        genre_ids=genres["pk"],
        genre_names=genres["name"].astype(str),
        item_genres=item_genres,
        vocabulary=features.vocabulary,
    )
    return catalog, features
