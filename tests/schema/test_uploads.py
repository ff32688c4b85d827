"""File uploads in the request pipeline (schema/pipeline/multipart.py): the GraphQL multipart request spec, its
size limit, malformed requests, and the attacker's requests — a cross-site HTML form posting a multipart
mutation with the victim's cookies."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from graphql_jwt.settings import jwt_settings
from graphql_jwt.shortcuts import get_token
from graphql_relay import from_global_id

from tests.users.factories import PASSWORD, person_create
from users.models import ImportJob, User

IMPORT = """mutation($file: Upload!, $source: LibrarySource!) {
  importLibrary(file: $file, source: $source) { job { id status } errors { field message code } }
}"""
CSV = b"Date,Name,Year,Letterboxd URI,Rating\n2020-01-05,The Matrix,1999,x,4.5\n"


def form(content: bytes = CSV, *, operations=None, file_map=None, name: str = "ratings.csv") -> dict:
    operations = operations or {"query": IMPORT, "variables": {"file": None, "source": "LETTERBOXD"}}
    return {
        "operations": json.dumps(operations),
        "map": json.dumps(file_map if file_map is not None else {"0": ["variables.file"]}),
        "0": SimpleUploadedFile(name, content, content_type="text/csv"),
    }


def bearer(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {get_token(user)}"}


@pytest.fixture
def ada(db):
    return person_create("ada")


def code(response) -> str:
    body = response.json()
    errors = body["errors"] if isinstance(body, dict) else body[0]["errors"]
    return errors[0]["extensions"]["code"]


def test_an_upload_creates_a_pending_job(client, ada):
    response = client.post("/graphql", form(), **bearer(ada))

    job = response.json()["data"]["importLibrary"]["job"]
    assert response.status_code == 200 and job["status"] == "PENDING"
    stored = ImportJob.objects.get(pk=from_global_id(job["id"])[1])
    assert (stored.user, stored.filename, bytes(stored.content)) == (ada, "ratings.csv", CSV)


def test_a_batch_of_operations_takes_its_files_by_index(client, ada):
    operations = [{"query": IMPORT, "variables": {"file": None, "source": "IMDB"}}, {"query": "{ me { username } }"}]
    response = client.post("/graphql", form(operations=operations, file_map={"0": ["0.variables.file"]}), **bearer(ada))

    answers = response.json()
    assert answers[0]["data"]["importLibrary"]["job"]["status"] == "PENDING"
    assert answers[1]["data"] == {"me": {"username": "ada"}}


def test_a_file_over_the_limit_is_refused_with_a_clear_code(client, ada, settings):
    settings.NEXUS_UPLOAD_MAX_BYTES = len(CSV) - 1

    response = client.post("/graphql", form(), **bearer(ada))

    assert response.status_code == 413 and code(response) == "UPLOAD_TOO_LARGE"
    assert str(len(CSV) - 1) in response.json()["errors"][0]["message"]
    assert not ImportJob.objects.exists()


def test_a_request_declared_over_the_limit_is_refused_before_it_is_read(client, ada, settings):
    settings.NEXUS_UPLOAD_MAX_BYTES = 1000
    settings.NEXUS_GRAPHQL_MAX_DOCUMENT_BYTES = 1000
    big = b"x" * 5000

    response = client.post("/graphql", form(big), **bearer(ada))

    assert response.status_code == 413 and code(response) == "UPLOAD_TOO_LARGE"
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({**form(), "operations": "{not json"}, "must be JSON"),
        ({**form(), "map": "[1]"}, "`map` a JSON object"),
        (form(file_map={"1": ["variables.file"]}), "does not hold"),
        (form(file_map={"0": ["query"]}), "leads to no variable"),
        (form(file_map={"0": ["variables.nothing.deeper"]}), "leads to no variable"),
        (form(file_map={"0": []}), "must list where"),
    ],
)
def test_a_malformed_multipart_request_is_refused(client, ada, data, words):
    response = client.post("/graphql", data, **bearer(ada))

    assert response.status_code == 400 and code(response) == "BAD_REQUEST"
    assert words in response.json()["errors"][0]["message"]
    assert not ImportJob.objects.exists()


def test_an_upload_variable_sent_as_json_is_refused(gql, ada):
    body = gql.execute(IMPORT, {"file": "ratings.csv", "source": "LETTERBOXD"}, token=get_token(ada))

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "multipart" in body["errors"][0]["message"]


def test_a_multipart_get_reads_no_body_and_runs_no_mutation(client, ada):
    response = client.get("/graphql", {"operations": form()["operations"]}, **bearer(ada))

    assert response.status_code == 400
    assert not ImportJob.objects.exists()


# --- The attacker: a cross-site HTML form (enctype="multipart/form-data") posted from the victim's browser ------


def test_a_cross_site_form_with_the_victims_token_cookie_is_refused_by_csrf(ada):
    browser = Client(enforce_csrf_checks=True)
    browser.cookies[jwt_settings.JWT_COOKIE_NAME] = get_token(ada)  # cookie mode: the browser sends it by itself

    forged = browser.post("/graphql", form())  # the attacker's page cannot read or send the CSRF token

    assert forged.status_code == 403
    assert not ImportJob.objects.exists()


def test_the_page_of_our_own_with_the_csrf_token_may_upload_in_cookie_mode(ada, settings):
    settings.NEXUS_JWT_COOKIE = True
    browser = Client(enforce_csrf_checks=True)
    browser.cookies[jwt_settings.JWT_COOKIE_NAME] = get_token(ada)
    browser.cookies[settings.CSRF_COOKIE_NAME] = secret = "a" * 32

    response = browser.post("/graphql", form(), HTTP_X_CSRFTOKEN=secret)

    assert response.json()["data"]["importLibrary"]["job"]["status"] == "PENDING"


def test_a_cross_site_form_with_an_admin_session_runs_anonymously(ada):
    staff = User.objects.create_user("staff", "staff@example.com", PASSWORD, is_staff=True, is_superuser=True)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)  # a session cookie: no credential of the API

    forged = browser.post("/graphql", form())

    assert code(forged) == "UNAUTHENTICATED"
    assert not ImportJob.objects.exists()
