"""Every finding of the security review (issue 12), replayed as an attacker would, over HTTP against running
servers: the live stack (tests/e2e/live.py: gunicorn, DEBUG off, PostgreSQL, Redis, the real catalog) and, for the
limits, a second gunicorn on the same database with production's limits (``guarded``). A test fails if its attack
works again. docs/security.md is the threat model these findings tested.
"""

import base64
import dataclasses
import hashlib
import hmac
import json
import re
import secrets
import subprocess
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import requests
from django.conf import settings

from tests.e2e.live import LIVE_PASSWORD, LiveStack
from tests.servers import PROJECT_DIR, PYTHON, TOOLS_PATH, free_port, http_get, running, wait_until

TIMEOUT = 30
PRIVATE = """query Private { me { username email }
  movie(movielensId: 1) { title myRating isFavorite inWatchlist } }"""
STAFF_PASSWORD = "staff-Brass-Lantern-58"  # noqa: S105 - a test account's


@dataclasses.dataclass(frozen=True)
class Server:
    """One running server and how to talk to it. Requests name their client address in X-Forwarded-For, which
    the guarded server trusts one hop deep, so that each attack has a budget of its own."""

    base_url: str
    jwt_secret: str

    def post(self, body, *, token: str | None = None, address: str | None = None, **headers) -> requests.Response:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if address:
            headers["X-Forwarded-For"] = address
        return requests.post(f"{self.base_url}/graphql", json=body, headers=headers, timeout=TIMEOUT)

    def graphql(self, query: str, variables: dict | None = None, **kwargs) -> dict:
        return self.post({"query": query, "variables": variables or {}}, **kwargs).json()

    def login(self, username: str, password: str = LIVE_PASSWORD, **kwargs) -> dict:
        answer = self.graphql(
            "mutation($u: String!, $p: String!) { tokenAuth(username: $u, password: $p) { token refreshToken } }",
            {"u": username, "p": password},
            **kwargs,
        )
        return answer

    def register(self, username: str, **kwargs) -> dict:
        answer = self.graphql(
            "mutation($u: String!, $e: String!, $p: String!) {"
            " register(username: $u, email: $e, password: $p) { token refreshToken errors { field code } } }",
            {"u": username, "e": f"{username}@example.com", "p": LIVE_PASSWORD},
            **kwargs,
        )
        payload = answer["data"]["register"]
        assert payload["token"], answer
        return payload


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(3)}"


def address() -> str:
    """A client address of its own (documentation range: never a real host)."""
    return f"192.0.2.{secrets.randbelow(250) + 1}"


def codes(answer: dict) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in answer.get("errors") or []]


@pytest.fixture(scope="module")
def live(live_stack: LiveStack) -> Server:
    return Server(live_stack.base_url, live_stack.env["JWT_SECRET_KEY"])


@pytest.fixture(scope="module")
def guarded(live_stack: LiveStack, tmp_path_factory) -> Server:
    """gunicorn on the live stack's database with production's limits: rate limits and login throttles at their
    defaults, introspection off, behind one trusted proxy; a Redis database of its own (the live stack's
    unlimited clients must not spend its budgets)."""
    folder = tmp_path_factory.mktemp("guarded")
    (folder / "metrics").mkdir()
    port = free_port()
    redis_url = redis_database_apart(settings.REDIS_URL, live_stack.env["REDIS_URL"])
    env = {
        **live_stack.env,
        "PORT": str(port),
        "REDIS_URL": redis_url,
        "NEXUS_TRUSTED_PROXIES": "1",
        "NEXUS_GRAPHQL_INTROSPECTION": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
    }
    for name in ("NEXUS_RATE_LIMIT_USER", "NEXUS_RATE_LIMIT_ANON", "LOGIN_MAX_FAILURES"):
        env.pop(name)
    store = redis.Redis.from_url(redis_url)
    store.flushdb()
    with running([PYTHON, "-m", "gunicorn", "nexus.wsgi"], env=env, log_path=folder / "gunicorn.log") as web:
        base_url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: http_get(f"{base_url}/health/live")[0] == 200,
            timeout=60,
            what="guarded gunicorn",
            log_path=folder / "gunicorn.log",
        )
        yield Server(base_url, live_stack.env["JWT_SECRET_KEY"])
        assert web.poll() is None, "the guarded gunicorn died during the attacks"
    store.flushdb()
    store.close()


def redis_database_apart(*urls: str) -> str:
    """A Redis URL on the tests' server whose database number none of ``urls`` uses."""
    taken = {int(urlsplit(url).path.strip("/") or 0) for url in urls}
    free = max(number for number in range(16) if number not in taken)
    return urlunsplit(urlsplit(urls[0])._replace(path=f"/{free}"))


# --- 1. Anonymous cache poisoning through batching -------------------------------------------------------------


@pytest.mark.parametrize("login", ["tokenAuth", "register"])
def test_1_a_login_in_a_batch_does_not_poison_the_anonymous_cache(live, live_stack, login):
    victim = unique("victim")
    token = live_stack.register(victim)
    toy_story = live.graphql("{ movie(movielensId: 1) { id } }")["data"]["movie"]["id"]
    rated = live.graphql(
        "mutation($m: ID!) { rateMovie(movieId: $m, score: 4.5) { errors { code } } addFavorite(movieId: $m)"
        " { errors { code } } }",
        {"m": toy_story},
        token=token,
    )
    assert not rated.get("errors"), rated
    if login == "tokenAuth":
        first = {
            "query": "mutation($u: String!, $p: String!) { tokenAuth(username: $u, password: $p) { token } }",
            "variables": {"u": victim, "p": LIVE_PASSWORD},
        }
    else:
        first = {
            "query": "mutation($u: String!, $e: String!, $p: String!) {"
            " register(username: $u, email: $e, password: $p) { token } }",
            "variables": {"u": unique("mallory"), "e": f"{unique('m')}@example.com", "p": LIVE_PASSWORD},
        }
    poisoned = live.post([first, {"query": PRIVATE}]).json()
    assert poisoned[0]["data"][login]["token"]
    assert poisoned[1]["data"]["me"] is None
    assert poisoned[1]["data"]["movie"]["myRating"] is None

    for _ in range(3):  # both gunicorn processes, cached or not
        later = live.graphql(PRIVATE)["data"]
        assert later["me"] is None
        assert later["movie"]["myRating"] is None and later["movie"]["isFavorite"] is False


# --- 2. An admin session on /graphql; cookie-authenticated mutations without CSRF -------------------------------


@pytest.fixture(scope="module")
def staff_session(live, live_stack) -> dict:
    """Cookies of a staff member signed in to /admin/ (Secure cookies: sent by hand over this plain HTTP)."""
    username = unique("staff")
    subprocess.run(
        [PYTHON, "manage.py", "createsuperuser", "--noinput", "--username", username, "--email", "s@example.com"],
        cwd=PROJECT_DIR,
        env={"PATH": TOOLS_PATH, **live_stack.env, "DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD},
        check=True,
        capture_output=True,
    )
    cookies = admin_login(live, username, STAFF_PASSWORD)
    assert "sessionid" in cookies, "the staff member could not sign in to /admin/"
    return {"username": username, "cookies": cookies}


def admin_login(server: Server, username: str, password: str, address: str | None = None) -> dict:
    """Signs in through /admin/login/ as a browser would; the cookies afterwards (sessionid only on success)."""
    headers = {"X-Forwarded-For": address} if address else {}
    page = requests.get(f"{server.base_url}/admin/login/", headers=headers, timeout=TIMEOUT)
    cookies = {"csrftoken": page.cookies["csrftoken"]}
    form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = requests.post(
        f"{server.base_url}/admin/login/?next=/admin/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": form_token, "next": "/admin/"},
        cookies=cookies,
        headers=headers,
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    cookies.update(answer.cookies.get_dict())
    return cookies


def test_2_an_admin_session_is_neither_served_nor_cached_as_anyones(live, staff_session):
    url = f"{live.base_url}/graphql"
    for _ in range(3):
        as_staff = requests.get(
            url, params={"query": "{ me { email } }"}, cookies=staff_session["cookies"], timeout=TIMEOUT
        )
        assert as_staff.json()["data"]["me"] is None
        assert requests.get(url, params={"query": "{ me { email } }"}, timeout=TIMEOUT).json()["data"]["me"] is None


def test_2_a_cross_site_mutation_riding_an_admin_session_changes_nothing(live, live_stack, staff_session):
    toy_story = live.graphql("{ movie(movielensId: 1) { id } }")["data"]["movie"]["id"]
    answer = requests.post(
        f"{live.base_url}/graphql",
        json={"query": f'mutation {{ rateMovie(movieId: "{toy_story}", score: 0.5) {{ rating {{ score }} }} }}'},
        cookies=staff_session["cookies"],
        headers={"Origin": "https://evil.example"},
        timeout=TIMEOUT,
    ).json()
    assert codes(answer) == ["UNAUTHENTICATED"]
    rows = live_stack.sql(
        "SELECT count(*) FROM users_rating r JOIN users_user u ON u.id = r.user_id WHERE u.username = %s",
        (staff_session["username"],),
    )
    assert rows == [(0,)]


# --- 3. Persisted queries storing junk --------------------------------------------------------------------------


def persisted(document: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(document.encode()).hexdigest()}}


def test_3_an_unparseable_or_invalid_document_is_not_persisted(guarded):
    for junk in ("{" * 90_000, "{ " + "nosuchfield " * 7000 + "}"):
        assert len(junk) > 80_000
        guarded.post({"query": junk, "extensions": persisted(junk)}, address=address())
        again = guarded.post({"extensions": persisted(junk)}, address=address()).json()
        assert codes(again) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_3_one_client_cannot_register_persisted_documents_without_end(guarded):
    client = address()
    refused = None
    for number in range(200):
        document = f"query Junk{number} {{ movie(movielensId: {number + 1}) {{ title }} }}"
        answer = guarded.post({"query": document, "extensions": persisted(document)}, address=client).json()
        if "PERSISTED_QUERY_REGISTRATION_LIMITED" in json.dumps(answer):
            refused = number
            break
    assert refused is not None, "200 registrations from one client were all stored"


# --- 4, 5. Login throttling: the admin's login form, and other spellings of a name --------------------------------


def test_4_the_admin_login_is_throttled_like_token_auth(guarded, live_stack, staff_session):
    client = address()
    for _ in range(15):
        assert "sessionid" not in admin_login(guarded, staff_session["username"], "wrong password", client)
    assert "sessionid" not in admin_login(guarded, staff_session["username"], STAFF_PASSWORD, client)
    # The GraphQL login shares the account's budget.
    answer = guarded.login(staff_session["username"], STAFF_PASSWORD, address=address())
    assert codes(answer) == ["RATE_LIMITED"]


def test_5_another_spelling_of_a_locked_account_shares_its_throttle(guarded):
    name = unique("seclimit")
    guarded.register(name, address=address())
    for _ in range(12):  # from many addresses: only the account's own budget runs out
        guarded.login(name, "wrong password", address=address())
    for spelling in (name.upper(), name.replace("i", "ı"), name.replace("e", "ｅ")):
        answer = guarded.login(spelling, LIVE_PASSWORD, address=address())
        assert answer["data"] is None or answer["data"]["tokenAuth"] is None, (spelling, answer)
        assert codes(answer) in (["RATE_LIMITED"], ["UNAUTHENTICATED"]), (spelling, answer)


# --- 6, 7. Input that once broke an account or the server -------------------------------------------------------


def test_6_a_viewing_in_year_1_is_refused_and_history_keeps_working(live, live_stack):
    token = live_stack.register(unique("historian"))
    toy_story = live.graphql("{ movie(movielensId: 1) { id } }")["data"]["movie"]["id"]
    for moment in ("0001-01-01T00:00:00+14:00", "1869-12-31T23:59:59Z", "2999-01-01T00:00:00Z"):
        answer = live.graphql(
            "mutation($m: ID!, $t: DateTime!) { markWatched(movieId: $m, watchedAt: $t) { errors { field code } } }",
            {"m": toy_story, "t": moment},
            token=token,
        )
        assert answer["data"]["markWatched"]["errors"] == [{"field": "watchedAt", "code": "OUT_OF_RANGE"}], answer
    history = live.graphql("{ me { history(first: 5) { totalCount } } }", token=token)
    assert history == {"data": {"me": {"history": {"totalCount": 0}}}, "extensions": history["extensions"]}


def test_7_control_characters_and_bad_ids_are_the_clients_error(live, live_stack):
    token = live_stack.register(unique("nul"))
    for field in ("displayName", "bio"):
        answer = live.graphql(
            f"mutation($v: String!) {{ updateProfile({field}: $v) {{ errors {{ field code }} }} }}",
            {"v": "Mallory\x00 was here"},
            token=token,
        )
        assert answer["data"]["updateProfile"]["errors"] == [{"field": field, "code": "BAD_USER_INPUT"}], answer
    for raw in ("Movie:abc", "Movie:", "Movie:1.5", "Movie:-1", "Movie:99999999999999999999999"):
        node_id = base64.b64encode(raw.encode()).decode()
        for document in ("query($id: ID!) { node(id: $id) { id } }", "query($id: ID!) { movie(id: $id) { id } }"):
            answer = live.graphql(document, {"id": node_id})
            assert codes(answer) == ["BAD_USER_INPUT"], (raw, document, answer)


# --- 8, 9. Tokens ------------------------------------------------------------------------------------------------


def refresh(server: Server, refresh_token: str) -> dict:
    return server.graphql(
        "mutation($r: String!) { refreshToken(refreshToken: $r) { token refreshToken } }", {"r": refresh_token}
    )


def test_8_replaying_a_rotated_refresh_token_logs_out_thief_and_victim(live):
    first = live.register(unique("rotator"))["refreshToken"]
    second = refresh(live, first)["data"]["refreshToken"]["refreshToken"]
    replay = refresh(live, first)
    assert codes(replay) == ["INVALID_TOKEN"]
    assert codes(refresh(live, second)) == ["INVALID_TOKEN"]


def forged_token(secret: str, claims: dict) -> str:
    """An HS256 JWT signed with the server's own key."""

    def encode(part) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(part, separators=(",", ":")).encode()).rstrip(b"=")

    signing_input = encode({"alg": "HS256", "typ": "JWT"}) + b"." + encode(claims)
    signature = base64.urlsafe_b64encode(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())
    return (signing_input + b"." + signature.rstrip(b"=")).decode()


def test_9_a_token_without_expiry_issue_time_or_subject_is_refused(live):
    payload = live.register(unique("timeless"))
    claims = json.loads(base64.urlsafe_b64decode(payload["token"].split(".")[1] + "==="))
    for missing in ("exp", "iat", "sub"):
        forged = forged_token(live.jwt_secret, {key: value for key, value in claims.items() if key != missing})
        answer = live.graphql("{ me { username } }", token=forged)
        assert codes(answer) == ["INVALID_TOKEN"], (missing, answer)
    # The same claims, re-signed with every claim present, are a valid token: the key and encoding are right.
    assert live.graphql("{ me { username } }", token=forged_token(live.jwt_secret, claims))["data"]["me"]


# --- 10, 11, 12, 13. What the server tells, counts, charges and trusts ------------------------------------------


def test_10_with_introspection_off_errors_suggest_no_schema_names(guarded):
    for document in (
        "{ movi { title } }",
        "{ movie(movielensI: 1) { title } }",
        "{ movies(orderBy: {field: RATIN}) { totalCount } }",
    ):
        answer = guarded.graphql(document, address=address())
        message = json.dumps(answer["errors"])
        assert "Did you mean" not in message, message
        assert answer["errors"], answer


def test_11_made_up_operation_names_do_not_grow_the_metrics(guarded):
    def series() -> int:
        text = requests.get(f"{guarded.base_url}/metrics", timeout=TIMEOUT).text
        return len([line for line in text.splitlines() if line.startswith("nexus_graphql_operations_total{")])

    guarded.graphql("query Warmup { __typename }", address=address())
    before = series()
    client = address()
    for _ in range(60):
        name = unique("Made")
        guarded.post({"query": f"query {name} {{ __typename }}", "operationName": name}, address=client)
    assert series() - before <= 2  # one "other" label, success and error at most


def test_12_password_hashing_and_introspection_are_priced_by_their_cost(live):
    login = live.login("nobody-at-all", "wrong password")
    assert login["extensions"]["cost"]["requested"] >= 100, login["extensions"]
    aliases = " ".join(f"a{n}: __schema {{ types {{ name fields {{ name args {{ name }} }} }} }}" for n in range(50))
    answer = live.graphql(f"{{ {aliases} }}")
    assert codes(answer) == ["QUERY_TOO_COSTLY"], str(answer)[:500]


def test_13_forwarded_proto_is_not_trusted_without_a_proxy(live):
    status, headers, _ = http_get(f"{live.base_url}/health/live", headers={"X-Forwarded-Proto": "https"})
    assert status == 200
    assert "Strict-Transport-Security" not in headers
