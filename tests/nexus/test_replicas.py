"""Read replicas (nexus/database_router.py) on a PostgreSQL primary and a streaming replica of the test's own
(initdb, pg_basebackup -R, free ports, a temporary folder removed afterwards). The replica's replay is paused, so
that what the primary wrote is surely not there yet: a read that finds it came from the primary, one that does
not from the replica. Django runs in a child process configured with DATABASE_REPLICA_URLS."""

import contextlib
import json
import shutil
import subprocess

import psycopg2

from tests.conftest import need
from tests.faults import POSTGRES_BIN, PostgresCluster, Service, manage, nexus_environment, wait_for
from tests.servers import PROJECT_DIR, PYTHON, free_port

SCRIPT = """
import json
import django
django.setup()
from django.test import Client
from django.utils import timezone
from catalog.models import Genre, Movie
from nexus import request_context
from users.models import Rating, User

out = {"routes": {"movie": Movie.objects.all().db, "genre": Genre.objects.all().db, "rating": Rating.objects.all().db,
                  "user": User.objects.all().db}}
genre = Genre.objects.create(name="Replicated", slug="replicated")
movie = Movie.objects.create(title="Only on the primary", movielens_id=999999)
user = User.objects.create(username="reader")
now = timezone.now()
Rating.objects.create(user=user, movie=movie, score=4, created_at=now, updated_at=now)
out["genre_seen_outside_requests"] = Genre.objects.filter(slug="replicated").exists()
out["own_ratings"] = Rating.objects.filter(user=user).count()
token = request_context._request_memo.set({})
out["genre_seen_before_a_write"] = Genre.objects.filter(slug="replicated").exists()
Rating.objects.filter(user=user).update(score=5)
out["genre_seen_after_a_write"] = Genre.objects.filter(slug="replicated").exists()
request_context._request_memo.reset(token)
out["ready"] = Client().get("/health/ready").json()
print(json.dumps(out))
"""


@contextlib.contextmanager
def primary_and_replica():
    primary = PostgresCluster()
    replica = None
    try:
        primary.start()
        data = primary.folder / "replica"
        backup = [str(POSTGRES_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"]
        primary._as_postgres([*backup, "-D", str(data), "-R", "-X", "stream"])
        port = free_port()
        command = [str(POSTGRES_BIN / "postgres"), "-D", str(data), "-p", str(port), "-k", str(primary.folder)]
        command += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
        log = data.parent / "replica.log"
        replica = Service("replica", primary._as_postgres_command(command), env=primary.service.env, log=log)
        replica.start()
        url = f"postgres://postgres@127.0.0.1:{port}/postgres"
        wait_for(lambda: psycopg2.connect(url, connect_timeout=1).close() or True, timeout=30, what="the replica")
        yield primary, url
    finally:
        if replica is not None:
            replica.kill()
        primary.remove()
        shutil.rmtree(primary.folder, ignore_errors=True)


def replay(replica_url: str, action: str) -> None:
    with contextlib.closing(psycopg2.connect(replica_url)) as connection:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT pg_wal_replay_{action}()")


def test_shared_reads_go_to_the_replica_and_a_user_reads_their_own_writes(tmp_path):
    need(POSTGRES_BIN is not None, "needs PostgreSQL server binaries under /usr/lib/postgresql")
    with primary_and_replica() as (primary, replica_url):
        database = primary.create_database("nexus")
        replica_database = replica_url.rsplit("/", 1)[0] + "/nexus"
        env = nexus_environment(
            DATABASE_URL=database,
            REDIS_URL="",
            CELERY_BROKER_URL="",
            NEXUS_VAR_DIR=str(tmp_path / "var"),
            DJANGO_SETTINGS_MODULE="nexus.settings",
            ALLOWED_HOSTS="testserver",
        )
        manage(env, "migrate", "--noinput", timeout=300)
        wait_for(
            lambda: psycopg2.connect(replica_database, connect_timeout=1).close() or True,
            timeout=30,
            what="the replica has the database",
        )
        replay(replica_database, "pause")
        env["DATABASE_REPLICA_URLS"] = replica_database
        done = subprocess.run([PYTHON, "-c", SCRIPT], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])

        assert out["routes"] == {"movie": "replica0", "genre": "replica0", "rating": "default", "user": "default"}
        assert out["genre_seen_outside_requests"] is False  # read on the paused replica
        assert out["own_ratings"] == 1  # the library is read on the primary: one's own writes, at once
        assert out["genre_seen_before_a_write"] is False
        assert out["genre_seen_after_a_write"] is True  # a request that wrote reads from the primary
        lag = out["ready"]["checks"]["database_replica0"]
        assert lag["status"] == "ok" and lag["lag_bytes"] > 0, lag

        replay(replica_database, "resume")

        def caught_up():
            with contextlib.closing(psycopg2.connect(replica_database)) as connection, connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM catalog_genre WHERE slug = 'replicated'")
                return cursor.fetchone()[0] == 1

        wait_for(caught_up, timeout=30, what="the replica replays the primary's writes")
