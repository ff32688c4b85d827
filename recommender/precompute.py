"""Precompute as a fan-out: every user's list under a new version, a shard of users at a time, by any worker.

A training (``recommender.training``) fits the model once and saves it with its catalog artifact under
``NEXUS_MODEL_DIR`` (``recommender.model_files``: a folder every worker reads, on a shared volume), plans shards of
the users with interactions (``shards_plan``) and queues one ``precompute_shard`` task per shard. A shard
(``shard_precompute``) loads the saved model, reads its users' events with one query, ranks their lists exactly as
a one-process training does (``recommender.lists``: the same rows, the same model) and writes them under the
version; it returns a summary that the chord's callback adds up (``summaries_check``, ``summaries_metrics``).
"""

import logging
import time

import numpy as np

from recommender import store
from recommender.interactions_db import declared_genre_ids, event_log, interactions_from_events
from recommender.lists import UserRows, every_users_lists, rank_threads
from recommender.model_files import model_load
from recommender.store import Reason

logger = logging.getLogger(__name__)

NAMING_A_MOVIE = (Reason.RATED, Reason.FAVORITED, Reason.WATCHED)


def shards_plan(user_ids: np.ndarray, *, shard_users: int) -> list[list[int]]:
    """``user_ids`` (ascending) cut into shards of ``shard_users`` consecutive users."""
    if shard_users < 1:
        raise ValueError("a shard needs at least one user")
    return [user_ids[start : start + shard_users].tolist() for start in range(0, len(user_ids), shard_users)]


def shard_precompute(*, version: str, user_ids: list[int]) -> dict:
    """Ranks and writes the lists of ``user_ids`` under ``version`` (not live yet) with the version's saved model.
    Safe to run again (a redelivered or retried shard rewrites the same keys). Returns the shard's summary."""
    started = time.perf_counter()
    model, catalog = model_load(version)
    events = event_log(user_ids=user_ids)
    events = events[np.isin(events["movie"], catalog.item_ids)]  # movies added since the fit are unknown to it
    interactions = interactions_from_events(events, user_ids=np.asarray(user_ids), item_ids=catalog.item_ids)
    users = UserRows.of(events, interactions, catalog.declared_genres(declared_genre_ids(interactions.user_ids)))
    lists = every_users_lists(model, catalog, users, interactions)
    store.version_user_lists_write(version=version, user_lists=lists)
    threads = rank_threads()
    logger.info(
        "Precompute shard of %s: %s lists ranked on %s thread%s in %.1f s",
        version,
        len(lists),
        threads,
        "" if threads == 1 else "s",
        time.perf_counter() - started,
    )
    return _summary(lists, planned=len(user_ids))


def _summary(lists: dict[int, np.ndarray], *, planned: int) -> dict:
    """What the callback checks and the run's metrics add up (JSON: it travels through the result backend): of
    each list's balanced part, as the one-process training's metrics (``training._list_metrics``)."""
    balanced = [store.balanced(list_) for list_ in lists.values()]
    entries = np.concatenate([*balanced, store.empty_entries(0)])
    top10 = np.concatenate([store.empty_entries(0)["movie"], *(list_["movie"][:10] for list_ in balanced)])
    return {
        "planned": planned,
        "written": len(lists),
        "entries": len(entries),
        "naming_a_movie": int(np.isin(entries["reason"], NAMING_A_MOVIE).sum()),
        "top10": np.unique(top10).astype(int).tolist(),
        "top100": np.unique(entries["movie"]).astype(int).tolist(),
    }


def summaries_check(summaries: list, *, shards: int, planned: int, written_in_store: int) -> str | None:
    """Why a precomputed version must not go live, or None: every shard finished, and every planned user with
    interactions left has a list in the store."""
    finished = [summary for summary in summaries if isinstance(summary, dict) and "written" in summary]
    if len(finished) != shards:
        return f"{shards - len(finished)} of {shards} precompute shards did not finish"
    if sum(summary["planned"] for summary in finished) != planned:
        return f"the shards covered {sum(summary['planned'] for summary in finished)} of {planned} planned users"
    written = sum(summary["written"] for summary in finished)
    if written_in_store != written:
        return f"{written - written_in_store} of the {written} lists the shards wrote are missing from the store"
    return None


def summaries_metrics(summaries: list[dict], *, n_items: int) -> dict[str, float | int]:
    """The run's list metrics (as ``training._list_metrics`` computes them in one process), from the shards'."""
    entries = sum(summary["entries"] for summary in summaries)
    top10 = set().union(*(summary["top10"] for summary in summaries))
    top100 = set().union(*(summary["top100"] for summary in summaries))
    return {
        "users_with_lists": sum(summary["written"] for summary in summaries),
        "catalog_coverage@10": round(len(top10) / n_items, 4) if n_items else 0.0,
        "catalog_coverage@100": round(len(top100) / n_items, 4) if n_items else 0.0,
        "reasons_naming_a_movie": round(sum(s["naming_a_movie"] for s in summaries) / entries, 4) if entries else 0.0,
        "shards": len(summaries),
    }
