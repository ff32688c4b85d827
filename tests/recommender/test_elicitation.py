"""The onboarding math (recommender/elicitation.py) on small hand-made examples."""

import numpy as np
import pytest

from recommender.elicitation import Candidates, elicitation_pick, informativeness, rating_entropy


def test_entropy_is_zero_for_consensus_and_largest_for_a_split():
    histograms = np.array([[0] * 9 + [50], [5] * 10, [25, 0, 0, 0, 0, 0, 0, 0, 0, 25], [0] * 10])
    entropy = rating_entropy(histograms)
    assert entropy[0] == 0 and entropy[3] == 0
    assert entropy[1] == pytest.approx(np.log2(10))
    assert entropy[2] == pytest.approx(1.0)


def test_informativeness_is_the_number_of_ratings_times_their_entropy():
    split_few, split_many = [1, 0, 0, 0, 0, 0, 0, 0, 0, 1], [100, 0, 0, 0, 0, 0, 0, 0, 0, 100]
    consensus = [0, 0, 0, 0, 0, 0, 0, 0, 0, 500]
    assert informativeness(np.array([split_few, split_many, consensus])).tolist() == [2.0, 200.0, 0.0]


def test_picks_spread_over_genres_and_decades_and_skip_what_is_not_eligible():
    # Three very informative dramas of the 1990s, a slightly less informative comedy and a 1970s drama.
    candidates = Candidates(
        scores=np.array([10.0, 9.9, 9.8, 9.0, 8.5, 0.0]),
        genres=np.array([[1, 0], [1, 0], [1, 0], [0, 1], [1, 0], [0, 1]], dtype=bool),
        decades=np.array([1990, 1990, 1990, 1990, 1970, 2000]),
    )
    assert elicitation_pick(candidates, k=3).tolist() == [0, 3, 4]
    eligible = np.array([False, True, True, True, True, True])
    assert elicitation_pick(candidates, k=3, eligible=eligible).tolist() == [1, 3, 4]
    # Nothing uninformative (score 0) is ever asked, and the list ends when the candidates do.
    assert 5 not in elicitation_pick(candidates, k=10).tolist()
    assert len(elicitation_pick(candidates, k=10)) == 5
