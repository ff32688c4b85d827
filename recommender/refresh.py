"""The per-user refresh: one user's current interactions folded into the current model, and only that user's list
rewritten (the ``refresh_user`` task, which ``recommender.outbox`` runs for each library change the library
records through ``users.events``)."""

import logging

import numpy as np

from recommender import store
from recommender.algorithms.hybrid import Hybrid
from recommender.catalog_artifact import Catalog
from recommender.interactions_db import declared_genre_ids, event_log, has_positive, interactions_from_events
from recommender.lists import UserRows, ranked_lists
from recommender.model_files import model_load
from users.events import refresh_queued_clear

REFRESH_ATTEMPTS = 3
logger = logging.getLogger(__name__)


def live_model_preload() -> None:
    """Reads the live model into this process' memory (``model_load`` keeps it), so that the first refresh
    finds it there; without a model, or with the store unreachable, the first refresh loads it as before."""
    try:
        version = store.current_version()
        if version is not None:
            model_load(version)
    except Exception:  # noqa: BLE001 - an optimisation: the refresh loads what it needs anyway
        logger.warning("Could not preload the live recommender model", exc_info=True)


def user_recommendations_refresh(*, user_id: int) -> bool:
    """Recomputes one user's list from their current interactions with the current model (EASE and item-kNN
    score ``x_u·B``, ALS solves the user's factors) and rewrites it in the current version. Returns False when
    there is no model to refresh with."""
    # First, so that any change committed from now on queues another refresh rather than riding along.
    refresh_queued_clear(user_id=user_id)
    for _ in range(REFRESH_ATTEMPTS):
        version = store.current_version()
        if version is None:
            return False
        model, catalog = model_load(version)
        entries = _user_list_compute(model, catalog, user_id=user_id)
        store.user_list_write(version=version, user_id=user_id, entries=entries)
        if store.current_version() == version:
            return True
        # A training switched versions meanwhile: this list went to the retired one; redo it on the new one.
        store.user_list_write(version=version, user_id=user_id, entries=None)
    return False


def _user_list_compute(model: Hybrid, catalog: Catalog, *, user_id: int) -> np.ndarray | None:
    """The user's list with a saved model, or None when nothing they did counts any more."""
    events = event_log(user_id=user_id)
    # Movies added since the model was trained are unknown to it.
    events = events[np.isin(events["movie"], catalog.item_ids)]
    if not has_positive(events):
        return None
    interactions = interactions_from_events(events, user_ids=np.array([user_id]), item_ids=catalog.item_ids)
    if interactions.confidence.nnz == 0:  # they hid everything they had rated
        return None
    users = UserRows.of(events, interactions, catalog.declared_genres(declared_genre_ids(np.array([user_id]))))
    return ranked_lists(model, catalog, users)[0]
