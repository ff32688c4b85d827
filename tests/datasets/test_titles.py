"""normalize_title: MovieLens titles ("Godfather, The (1972)") to titles for people, and their year."""

import pytest

from datasets.titles import normalize_title


@pytest.mark.parametrize(
    ("raw", "title", "year"),
    [
        ("Toy Story (1995)", "Toy Story", 1995),
        ("Godfather, The (1972)", "The Godfather", 1972),
        ("Few Good Men, A (1992)", "A Few Good Men", 1992),
        ("American Tail, An (1986)", "An American Tail", 1986),
        ("Lord of the Rings: The Two Towers, The (2002)", "The Lord of the Rings: The Two Towers", 2002),
        ("Mariachi, El (1992)", "El Mariachi", 1992),
        ("Divo, Il (2008)", "Il Divo", 2008),
        ("Baader Meinhof Komplex, Der (2008)", "Der Baader Meinhof Komplex", 2008),
        (
            "Vitelloni, I (a.k.a. The Young and the Passionate) (1953)",
            "I Vitelloni (a.k.a. The Young and the Passionate)",
            1953,
        ),
        ("Auberge espagnole, L' (2002)", "L'Auberge espagnole", 2002),
        ("Atalante, L' (1934)", "L'Atalante", 1934),
    ],
)
def test_trailing_articles_move_to_the_front(raw, title, year):
    assert normalize_title(raw) == (title, year)


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            "The City of Lost Children (La Cité des enfants perdus)",
        ),
        ("Boot, Das (Boat, The) (1981)", "Das Boot (The Boat)"),
        ("Hate (Haine, La) (1995)", "Hate (La Haine)"),
        ("Bear, The (Ours, L') (1988)", "The Bear (L'Ours)"),
        (
            "Dream of Light (a.k.a. Quince Tree Sun, The) (Sol del membrillo, El) (1992)",
            "Dream of Light (a.k.a. The Quince Tree Sun) (El Sol del membrillo)",
        ),
        (
            "Léon: The Professional (a.k.a. The Professional) (Léon) (1994)",
            "Léon: The Professional (a.k.a. The Professional) (Léon)",
        ),
        (
            "Good, the Bad and the Ugly, The (Buono, il brutto, il cattivo, Il) (1966)",
            "The Good, the Bad and the Ugly (Il Buono, il brutto, il cattivo)",
        ),
    ],
)
def test_alternative_titles_stay_in_parentheses_with_their_articles_in_front(raw, title):
    assert normalize_title(raw)[0] == title


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("Paris, Texas (1984)", "Paris, Texas"),
        (
            "Ciao, Professore! (Io speriamo che me la cavo) (1992)",
            "Ciao, Professore! (Io speriamo che me la cavo)",
        ),
        ("Hip Hop Witch, Da (2000)", "Hip Hop Witch, Da"),
        ("Good, the Bad and the Ugly (1966)", "Good, the Bad and the Ugly"),
    ],
)
def test_a_comma_before_a_word_that_is_no_article_stays(raw, title):
    assert normalize_title(raw)[0] == title


@pytest.mark.parametrize(
    ("raw", "title", "year"),
    [
        ("Death Note: Desu nôto (2006–2007)", "Death Note: Desu nôto", 2006),
        ("Fawlty Towers (1975-1979)", "Fawlty Towers", 1975),
        ("Stranger Things (2016- )", "Stranger Things", 2016),
        ("Babylon 5", "Babylon 5", None),
        ("Black Mirror, The", "The Black Mirror", None),
        ("  Justice League: Doom (2012) ", "Justice League: Doom", 2012),
        ("(500) Days of Summer (2009)", "(500) Days of Summer", 2009),
        ("1776 (1972)", "1776", 1972),
        ("Big Hit, The (Year of the Dragon) (1998)", "The Big Hit (Year of the Dragon)", 1998),
    ],
)
def test_years_ranges_and_missing_years(raw, title, year):
    assert normalize_title(raw) == (title, year)


def test_a_year_alone_is_no_title():
    assert normalize_title("(1995)") == ("(1995)", None)
