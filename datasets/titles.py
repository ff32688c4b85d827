"""MovieLens titles as people write them: "Godfather, The (1972)" becomes ("The Godfather", 1972)."""

import re

# Leading articles MovieLens moves behind a comma ("Godfather, The"), in the languages of its catalog.
# The elided ones ("L'", "Un'") join the next word without a space.
TRAILING_ARTICLES = frozenset(
    {
        *("The", "A", "An"),
        *("Le", "La", "Les", "L'", "Un", "Une"),
        *("Il", "Lo", "Gli", "I", "Uno", "Una", "Un'"),
        *("Der", "Die", "Das", "Ein", "Eine"),
        *("El", "Los", "Las"),
        *("O", "Os", "As"),
        *("De", "Het", "Een"),
        *("Den", "Det", "En", "Ett"),
    }
)
_ARTICLE_ALTERNATIVES = "|".join(re.escape(article) for article in sorted(TRAILING_ARTICLES, key=len, reverse=True))
_TRAILING_ARTICLE = re.compile(rf"^(?P<aka>a\.k\.a\.\s+)?(?P<body>.*\S),\s*(?P<article>{_ARTICLE_ALTERNATIVES})$")
# "(1995)", or a series' run "(2006-2007)" / "(2006–2007)" / "(2016- )": the first year counts.
_TRAILING_YEAR = re.compile(r"^(?P<title>.*\S)\s*\((?P<year>\d{4})(?:\s*[-–]\s*\d{0,4}\s*)?\)$")


def normalize_title(raw: str) -> tuple[str, int | None]:
    """Turn a MovieLens title into one for people, and its year.

    "Godfather, The (1972)" -> ("The Godfather", 1972); alternative titles stay in parentheses with their
    articles in front too: "City of Lost Children, The (Cité des enfants perdus, La) (1995)" ->
    ("The City of Lost Children (La Cité des enfants perdus)", 1995).
    """
    title, year = raw.strip(), None
    if match := _TRAILING_YEAR.match(title):
        title, year = match["title"], int(match["year"])
    main, alternatives = _split_trailing_parentheses(title)
    parts = [_article_first(main), *(f"({_article_first(alternative)})" for alternative in alternatives)]
    return " ".join(parts), year


def _split_trailing_parentheses(title: str) -> tuple[str, list[str]]:
    """ "Postman, The (Postino, Il)" -> ("Postman, The", ["Postino, Il"])."""
    groups: list[str] = []
    while title.endswith(")"):
        start = _matching_open_parenthesis(title)
        # A title that is all parentheses, or "(500) Days of Summer"-like ones, keep them.
        if start <= 0 or not title[start - 1].isspace():
            break
        groups.insert(0, title[start + 1 : -1].strip())
        title = title[:start].rstrip()
    return title, groups


def _matching_open_parenthesis(text: str) -> int:
    """Index of the "(" that the final ")" closes, or -1 when it has none."""
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        if text[index] == ")":
            depth += 1
        elif text[index] == "(":
            depth -= 1
            if depth == 0:
                return index
    return -1


def _article_first(text: str) -> str:
    """ "Auberge espagnole, L'" -> "L'Auberge espagnole"; "a.k.a. Boat, The" -> "a.k.a. The Boat"."""
    match = _TRAILING_ARTICLE.match(text)
    if not match:
        return text
    article, body = match["article"], match["body"]
    separator = "" if article.endswith("'") else " "
    return f"{match['aka'] or ''}{article}{separator}{body}"
