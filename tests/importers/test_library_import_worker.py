"""A library import through real processes, as deployed: a web server takes the multipart upload over HTTP, the
job is queued on the RabbitMQ broker, a Celery worker imports it, and the client polls importJob until it is DONE.
On a PostgreSQL database and a broker queue of the test's own (tests/e2e/test_worker_roundtrip.py's fixtures)."""

import json
import sys
import urllib.request
import uuid

from tests.conftest import movielens_small_dir
from tests.e2e import test_worker_roundtrip as roundtrip
from tests.e2e.test_worker_roundtrip import PASSWORD, Client, free_port, manage, process, wait_for
from tests.servers import queues_of

# The round trip's fixtures, requested by name: a database and a broker queue of the test's own.
e2e_database, environment = roundtrip.e2e_database, roundtrip.environment

REGISTER = """mutation($password: String!) {
  register(username: "mover", email: "mover@example.com", password: $password) { token }
}"""
IMPORT = """mutation($file: Upload!) {
  importLibrary(file: $file, source: LETTERBOXD) { job { id status } errors { code message } }
}"""
JOB = """query($id: ID!) { importJob(id: $id) {
  status counts { read matched created unchanged unmatched } unmatchedRows { line title } failure { reason }
} }"""
RATINGS = "{ me { ratings(first: 10) { edges { node { score movie { title year } } } } } }"
LETTERBOXD = b"""Date,Name,Year,Letterboxd URI,Rating
2020-01-05,Toy Story,1995,https://boxd.it/1,4.5
2020-01-06,Heat,1996,https://boxd.it/2,3
2020-01-07,A Film That Was Never Made,2019,https://boxd.it/3,2
"""


def multipart_upload(client: Client, content: bytes) -> dict:
    """POST a GraphQL multipart request, as curl -F or Apollo's upload link write it."""
    boundary = uuid.uuid4().hex
    parts = [
        ("operations", None, json.dumps({"query": IMPORT, "variables": {"file": None}}).encode()),
        ("map", None, b'{"0": ["variables.file"]}'),
        ("0", "ratings.csv", content),
    ]
    body = b""
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        body += b"Content-Type: text/csv\r\n" if filename else b""
        body += b"\r\n" + value + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Authorization": f"Bearer {client.token}"}
    request = urllib.request.Request(client.url, data=body, headers=headers)  # noqa: S310 - our own server
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        answer = json.load(response)
    assert not answer.get("errors"), answer["errors"]
    return answer["data"]["importLibrary"]


def test_an_uploaded_library_is_imported_by_a_real_worker(environment, e2e_database, tmp_path):
    manage(environment, "migrate", "--noinput")
    manage(environment, "import_movielens", str(movielens_small_dir()), "--no-train")
    port = free_port()
    queues = ",".join(queues_of(environment["CELERY_TASK_DEFAULT_QUEUE"]))  # the import's refresh too
    worker = [sys.executable, "-m", "celery", "-A", "nexus", "worker", "-Q", queues, "-c", "1", "-l", "info"]
    server = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    with (
        process(worker, environment, tmp_path / "worker.log") as worker_log,
        process(server, environment, tmp_path / "server.log") as server_log,
    ):
        wait_for(lambda: " ready." in worker_log.read_text(), timeout=60, what="worker ready", log=worker_log)
        client = Client(port)
        wait_for(client.up, timeout=30, what="the server answers", log=server_log)
        client.token = client.data(REGISTER, password=PASSWORD)["register"]["token"]

        def finished(job_id: str):
            job = client.data(JOB, id=job_id)["importJob"]
            return job if job["status"] in {"DONE", "FAILED"} else None

        for attempt in range(2):
            queued = multipart_upload(client, LETTERBOXD)
            assert queued["errors"] == [] and queued["job"]["status"] == "PENDING"
            job_id = queued["job"]["id"]
            job = wait_for(lambda job_id=job_id: finished(job_id), timeout=30, what="imported", log=worker_log)
            assert job["status"] == "DONE", job
            expected = {"read": 3, "matched": 2, "created": 2, "unchanged": 0, "unmatched": 1}
            if attempt == 1:  # the same file again changes nothing
                expected = {**expected, "created": 0, "unchanged": 2}
            assert job["counts"] == expected
            assert job["unmatchedRows"] == [{"line": 4, "title": "A Film That Was Never Made"}]

        ratings = client.data(RATINGS)["me"]["ratings"]["edges"]
        assert sorted((edge["node"]["movie"]["title"], edge["node"]["score"]) for edge in ratings) == [
            ("Heat", 3.0),
            ("Toy Story", 4.5),
        ]
