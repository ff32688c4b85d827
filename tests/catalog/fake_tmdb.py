"""A fake TMDb API: a real HTTP server on a free loopback port answering the v3 endpoints the sync reads with
JSON in TMDb's documented shapes (developer.themoviedb.org/reference: movie details with append_to_response,
now_playing, upcoming, changes, configuration, and the 404 body). Tests script failures per path."""

import json
import threading
from contextlib import contextmanager
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

IMAGE_BASE = "https://images.fake-tmdb.test/t/p/"
NEW_RELEASE_ID = 990_001
UPCOMING_ID = 990_002
MISSING_ID = 404_404

NOT_FOUND = {"success": False, "status_code": 34, "status_message": "The resource you requested could not be found."}


def configuration() -> dict:
    return {
        "images": {
            "base_url": IMAGE_BASE.replace("https", "http"),
            "secure_base_url": IMAGE_BASE,
            "backdrop_sizes": ["w300", "w780", "w1280", "original"],
            "logo_sizes": ["w45", "w92", "w154", "w185", "w300", "w500", "original"],
            "poster_sizes": ["w92", "w154", "w185", "w342", "w500", "w780", "original"],
            "profile_sizes": ["w45", "w185", "h632", "original"],
            "still_sizes": ["w92", "w185", "w300", "original"],
        },
        "change_keys": ["adult", "cast", "crew", "images", "keywords", "overview", "release_dates", "videos"],
    }


def toy_story() -> dict:
    return movie(
        862,
        title="Toy Story",
        release_date="1995-10-30",
        imdb_id="tt0114709",
        tagline="The adventure takes off!",
        poster_path="/uXDfjJbdP4ijW5hWSBrPrlKpxab.jpg",
        backdrop_path="/3Rfvhy1Nl6sSGJwyjb0QiZzZYlB.jpg",
        cast=[
            (31, "Tom Hanks", "Woody (voice)", "/xndWFsBlClOJFRdhSt4NBwiPq2o.jpg"),
            (12898, "Tim Allen", "Buzz Lightyear (voice)", "/PpgbtvYhzpdgYwNVfo0EgrtO3g.jpg"),
            (7167, "Don Rickles", "Mr. Potato Head (voice)", None),
        ],
        directors=[(7879, "John Lasseter", "/7EdqiNbr4FRjIhKHyPPdFfEEEFG.jpg")],
        keywords=["jealousy", "toy", "friendship"],
        trailer="v-PjgYDrg70",
        certification="G",
        genres=[(16, "Animation"), (12, "Adventure"), (10751, "Family"), (35, "Comedy")],
    )


def movie(tmdb_id, *, title, release_date, cast=(), directors=(), keywords=(), trailer=None, certification="",
          genres=(), imdb_id=None, tagline="", poster_path=None, backdrop_path=None) -> dict:  # fmt: skip
    """GET /movie/{id}?append_to_response=credits,keywords,videos,release_dates, as TMDb shapes it."""
    videos = [
        {"iso_639_1": "en", "iso_3166_1": "US", "name": "Behind the scenes", "key": "featurette1", "site": "YouTube",
         "size": 1080, "type": "Featurette", "official": True, "published_at": "2010-01-01T00:00:00.000Z", "id": "a1"},
    ]  # fmt: skip
    if trailer:
        videos.append(
            {"iso_639_1": "en", "iso_3166_1": "US", "name": "Official Trailer", "key": trailer, "site": "YouTube",
             "size": 1080, "type": "Trailer", "official": True, "published_at": "2011-01-01T00:00:00.000Z", "id": "a2"}
        )  # fmt: skip
    return {
        "adult": False,
        "backdrop_path": backdrop_path,
        "belongs_to_collection": None,
        "budget": 30000000,
        "genres": [{"id": genre_id, "name": name} for genre_id, name in genres],
        "homepage": "",
        "id": tmdb_id,
        "imdb_id": imdb_id,
        "original_language": "en",
        "original_title": title,
        "overview": f"The plot of {title}.",
        "popularity": 99.5,
        "poster_path": poster_path,
        "release_date": release_date,
        "revenue": 0,
        "runtime": 81,
        "status": "Released",
        "tagline": tagline,
        "title": title,
        "video": False,
        "vote_average": 7.9,
        "vote_count": 17000,
        "credits": {
            "cast": [
                {
                    "adult": False,
                    "gender": 2,
                    "id": person_id,
                    "known_for_department": "Acting",
                    "name": name,
                    "original_name": name,
                    "popularity": 10.0,
                    "profile_path": profile,
                    "cast_id": order,
                    "character": character,
                    "credit_id": f"c{person_id}",
                    "order": order,
                }
                for order, (person_id, name, character, profile) in enumerate(cast)
            ],
            "crew": [
                {
                    "adult": False,
                    "gender": 2,
                    "id": person_id,
                    "known_for_department": "Directing",
                    "name": name,
                    "original_name": name,
                    "popularity": 5.0,
                    "profile_path": profile,
                    "credit_id": f"d{person_id}",
                    "department": "Directing",
                    "job": "Director",
                }
                for person_id, name, profile in directors
            ]
            + [
                {
                    "adult": False,
                    "gender": 0,
                    "id": 99999,
                    "known_for_department": "Sound",
                    "name": "A. Composer",
                    "original_name": "A. Composer",
                    "popularity": 1.0,
                    "profile_path": None,
                    "credit_id": "m1",
                    "department": "Sound",
                    "job": "Original Music Composer",
                }
            ],
        },  # fmt: skip
        "keywords": {"keywords": [{"id": index + 1, "name": name} for index, name in enumerate(keywords)]},
        "videos": {"results": videos},
        "release_dates": {
            "results": [
                {
                    "iso_3166_1": "DE",
                    "release_dates": [
                        {
                            "certification": "0",
                            "iso_639_1": "",
                            "note": "",
                            "release_date": f"{release_date}T00:00:00.000Z",
                            "type": 3,
                        }
                    ],
                },
                {
                    "iso_3166_1": "US",
                    "release_dates": [
                        {
                            "certification": "",
                            "iso_639_1": "",
                            "note": "Premiere",
                            "release_date": f"{release_date}T00:00:00.000Z",
                            "type": 1,
                        },
                        {
                            "certification": certification,
                            "iso_639_1": "",
                            "note": "",
                            "release_date": f"{release_date}T00:00:00.000Z",
                            "type": 3,
                        },
                    ],
                },
            ]
        },  # fmt: skip
    }


def listing(*items: tuple[int, str, str], page: int = 1) -> dict:
    """A page of /movie/now_playing or /movie/upcoming."""
    today = date.today()
    return {
        "dates": {
            "maximum": (today + timedelta(days=30)).isoformat(),
            "minimum": (today - timedelta(days=40)).isoformat(),
        },
        "page": page,
        "results": [
            {
                "adult": False,
                "backdrop_path": None,
                "genre_ids": [28],
                "id": tmdb_id,
                "original_language": "en",
                "original_title": title,
                "overview": "",
                "popularity": 50.0,
                "poster_path": None,
                "release_date": released,
                "title": title,
                "video": False,
                "vote_average": 0.0,
                "vote_count": 0,
            }
            for tmdb_id, title, released in items
        ],  # fmt: skip
        "total_pages": 1,
        "total_results": len(items),
    }


class FakeTmdb:
    """The server's state: answers by path, scripted failures by path (each served once, in order), and every
    request it saw."""

    def __init__(self):
        last_month = date.today().replace(day=1) - timedelta(days=10)
        next_month = date.today() + timedelta(days=25)
        self.new_release = movie(
            NEW_RELEASE_ID,
            title="A Film Released Last Month",
            release_date=last_month.isoformat(),
            genres=[(28, "Action"), (878, "Science Fiction")],
            cast=[(31, "Tom Hanks", "The Captain", "/xndWFsBlClOJFRdhSt4NBwiPq2o.jpg")],
            trailer="newtrailer1",
            certification="PG-13",
        )
        self.upcoming = movie(UPCOMING_ID, title="A Film Coming Soon", release_date=next_month.isoformat())
        self.movies = {862: toy_story(), NEW_RELEASE_ID: self.new_release, UPCOMING_ID: self.upcoming}
        self.now_playing = listing((NEW_RELEASE_ID, self.new_release["title"], last_month.isoformat()))
        self.upcoming_list = listing((UPCOMING_ID, self.upcoming["title"], next_month.isoformat()))
        self.changes = {"results": [{"id": 862, "adult": False}, {"id": 5_555_555, "adult": False},
                                    {"id": 6_666_666, "adult": True}], "page": 1, "total_pages": 1,
                        "total_results": 3}  # fmt: skip
        self.failures: dict[str, list[tuple[int, dict]]] = {}
        self.requests: list[tuple[str, dict, dict]] = []
        self.lock = threading.Lock()

    def fail(self, path: str, *responses: tuple[int, dict]) -> None:
        """The next requests of ``path`` get these (status, headers), in order, before the real answer."""
        self.failures.setdefault(path, []).extend(responses)

    def answer(self, path: str, query: dict, headers: dict) -> tuple[int, dict, dict]:
        with self.lock:
            self.requests.append((path, query, headers))
            scripted = self.failures.get(path)
            if scripted:
                status, extra = scripted.pop(0)
                return status, extra, {"success": False, "status_code": 25, "status_message": "scripted failure"}
        if path == "/3/configuration":
            return 200, {}, configuration()
        if path == "/3/movie/now_playing":
            return 200, {}, self.now_playing
        if path == "/3/movie/upcoming":
            return 200, {}, self.upcoming_list
        if path == "/3/movie/changes":
            return 200, {}, self.changes
        if path.startswith("/3/movie/") and path[len("/3/movie/") :].isdigit():
            found = self.movies.get(int(path[len("/3/movie/") :]))
            return (200, {}, found) if found else (404, {}, NOT_FOUND)
        return 404, {}, NOT_FOUND


@contextmanager
def fake_tmdb_running():
    """(state, base URL ending in /3) of a fake TMDb served on a free loopback port while in the block."""
    state = FakeTmdb()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            status, headers, body = state.answer(parts.path, query, dict(self.headers))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/3"
    finally:
        server.shutdown()
        server.server_close()
