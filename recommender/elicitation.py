"""Which movies to ask a new user to rate first (preference elicitation; pure numpy, no Django).

A rating teaches the recommender something only when the person has seen the movie (otherwise they skip it), and
more when people's ratings of it disagree (a movie everyone loves says little about anyone). ``informativeness``
is the expected information of asking: the share of people who rated the movie (how likely this person has seen
it) × the entropy of its ratings (what an answer tells) — the "popularity × entropy" family of Rashid et al.
("Getting to Know You: Learning New User Preferences in Recommender Systems", IUI 2002). Their log-popularity
variant, and entropy alone, measured worse here (docs/recommender.md, "Onboarding").

``elicitation_pick`` then picks greedily by informativeness, discounted for what the picks so far already cover:
a movie all of whose genres were picked before counts ``GENRE_DECAY`` times less per earlier pick of its least
covered genre, and ``DECADE_DECAY`` times less per earlier pick of its decade. So the list spreads over genres and
decades while staying among the informative movies; the decays are mild because every step away from the most
seen movies cost list quality in the measurement.
"""

from dataclasses import dataclass

import numpy as np

# Half stars 0.5 … 5.0: the bins of a movie's rating histogram.
SCORE_BINS = 10
# The candidates: the most-rated movies, each rated at least this often (known enough to have been seen).
POOL_SIZE = 2000
POOL_MIN_RATINGS = 10
GENRE_DECAY = 0.9
DECADE_DECAY = 0.9


def rating_entropy(histograms: np.ndarray) -> np.ndarray:
    """Shannon entropy (bits) of each row's rating histogram (items × score bins of counts): 0 when everyone gave
    the same score, log2(10) ≈ 3.32 when every half star is equally common."""
    counts = np.asarray(histograms, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    p = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(p), 0.0)
    return terms.sum(axis=1)


def informativeness(histograms: np.ndarray) -> np.ndarray:
    """Number of ratings × their entropy (bits): proportional to the expected information of asking about the
    movie, P(seen) × H(answer), with P(seen) estimated as the share of people who rated it."""
    counts = np.asarray(histograms, dtype=np.float64).sum(axis=1)
    return rating_entropy(histograms) * counts


@dataclass(frozen=True)
class Candidates:
    """Movies that may be asked, in parallel arrays: ``scores`` (informativeness), ``genres`` (items × genres,
    bool) and ``decades`` (e.g. 1990; -1 when unknown)."""

    scores: np.ndarray
    genres: np.ndarray
    decades: np.ndarray


def elicitation_pick(candidates: Candidates, *, k: int, eligible: np.ndarray | None = None) -> np.ndarray:
    """Indices of up to ``k`` candidates to ask, best first: greedy informativeness, discounted for the genres and
    decades already picked (see the module). ``eligible`` (bool) leaves candidates out (what the user rated)."""
    scores = np.asarray(candidates.scores, dtype=np.float64)
    genres = np.asarray(candidates.genres, dtype=bool)
    decades = np.asarray(candidates.decades)
    open_ = np.ones(len(scores), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool).copy()
    open_ &= scores > 0
    genre_picks = np.zeros(genres.shape[1], dtype=np.float64)
    decade_values, decade_index = np.unique(decades, return_inverse=True)
    decade_picks = np.zeros(len(decade_values), dtype=np.float64)
    # A movie without genres is discounted as if it had one genre of its own that is never repeated.
    has_genres = genres.any(axis=1)
    picked: list[int] = []
    while len(picked) < k and open_.any():
        least_covered = np.where(has_genres, np.where(genres, genre_picks, np.inf).min(axis=1), 0.0)
        gain = scores * GENRE_DECAY**least_covered * DECADE_DECAY ** decade_picks[decade_index]
        best = int(np.argmax(np.where(open_, gain, -np.inf)))
        picked.append(best)
        open_[best] = False
        genre_picks += genres[best]
        if decades[best] >= 0:
            decade_picks[decade_index[best]] += 1
    return np.array(picked, dtype=np.int64)
