"""pg_trgm's similarity and word_similarity in Python, for title search on SQLite (the embedded default).

The same rules as PostgreSQL's extension, so that a search ranks alike on both backends: words are runs of letters
and digits, lower-cased and padded as "  word "; similarity is the Jaccard index of two trigram sets;
word_similarity is the best Jaccard index between the query's trigrams and any continuous run of the title's
trigrams. Registered as SQL functions on every SQLite connection (catalog/apps.py); no Django import here.
"""

import re
from functools import lru_cache

# Matches PostgreSQL's pg_trgm.word_similarity_threshold in nexus/settings.py: "godfahter" scores 0.5 against
# "The Godfather", and pg_trgm's default of 0.6 is too strict for one-word typos.
WORD_SIMILARITY_THRESHOLD = 0.4

_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=65536)
def trigram_sequence(text: str) -> tuple[str, ...]:
    """The trigrams of every word of ``text``, in the order they appear (a title's are cached: each search
    compares the same titles again)."""
    sequence = []
    for word in _WORD.findall(text.lower()):
        padded = f"  {word} "
        sequence.extend(padded[i : i + 3] for i in range(len(padded) - 2))
    return tuple(sequence)


def similarity(query: str | None, title: str | None) -> float:
    wanted, found = set(trigram_sequence(query or "")), set(trigram_sequence(title or ""))
    if not wanted or not found:
        return 0.0
    common = len(wanted & found)
    return common / (len(wanted) + len(found) - common)


def word_similarity(query: str | None, title: str | None) -> float:
    wanted = set(trigram_sequence(query or ""))
    sequence = trigram_sequence(title or "")
    # The best run starts and ends on a shared trigram: any other end only adds trigrams that are not shared.
    shared = [i for i, trigram in enumerate(sequence) if trigram in wanted]
    best = 0.0
    for start_index, start in enumerate(shared):
        extent, common = set(), set()
        position = start
        for end in shared[start_index:]:
            extent.update(sequence[position : end + 1])
            position = end + 1
            common.add(sequence[end])
            best = max(best, len(common) / (len(wanted) + len(extent) - len(common)))
    return best
