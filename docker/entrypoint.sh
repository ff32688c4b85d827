#!/bin/sh
# Entry point of the Nexus image: one image, one role per container.
#
#   web      gunicorn, configured by gunicorn.conf.py (WEB_CONCURRENCY, GUNICORN_THREADS, GUNICORN_TIMEOUT, ...)
#   worker   Celery worker for per-user refreshes, precompute shards and the default queue
#            (CELERY_WORKER_CONCURRENCY processes, one per core, each ranking on NEXUS_RANK_THREADS threads:
#            1 unless set, recommender/lists.py rank_threads); further arguments go to `celery worker`
#   trainer  Celery worker for trainings (the `training` queue), one at a time
#   beat     Celery beat; answers `celery inspect ping` so that it can be health-checked
#   init     migrate; on the first start (an empty catalog) import MovieLens from NEXUS_MOVIELENS, or download
#            ml-latest-small when nothing is there, then TMDb from NEXUS_TMDB when set, then train
#   other    run as a command, e.g. `docker compose run --rm web python manage.py createsuperuser`
set -eu

role="${1:-web}"
[ "$#" -gt 0 ] && shift

# With PROMETHEUS_MULTIPROC_DIR set, every process that imports Nexus writes its counts there (nexus/metrics.py),
# so the folder must exist, also for a one-off `manage.py` command; the servers start with it empty, because
# those files must not outlive the processes that wrote them.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
reset_metrics_dir() {
    if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
        find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -delete
    fi
}

# A job's queue, named as nexus/queues.py names it (job_queue): the job, or "<default queue>.<job>".
default_queue="${CELERY_TASK_DEFAULT_QUEUE:-celery}"
queue_of() {
    if [ "$default_queue" = celery ]; then echo "$1"; else echo "$default_queue.$1"; fi
}

catalog_is_empty() {
    python manage.py shell --no-imports --command \
        "import sys; from catalog.models import Movie; sys.exit(1 if Movie.objects.exists() else 0)"
}

first_start() {
    if [ -n "${NEXUS_MOVIELENS:-}" ] && [ -e "$NEXUS_MOVIELENS" ]; then
        python manage.py import_movielens --no-train "$NEXUS_MOVIELENS"
    else
        echo "No MovieLens release at NEXUS_MOVIELENS='${NEXUS_MOVIELENS:-}': downloading ml-latest-small."
        python manage.py import_movielens --no-train --download ml-latest-small
    fi
    if [ -n "${NEXUS_TMDB:-}" ] && [ -f "$NEXUS_TMDB" ]; then
        python manage.py import_tmdb "$NEXUS_TMDB"
    fi
    python manage.py train_recommender
}

case "$role" in
    web)
        reset_metrics_dir
        exec gunicorn nexus.wsgi "$@"
        ;;
    worker)
        reset_metrics_dir
        export NEXUS_RANK_THREADS="${NEXUS_RANK_THREADS:-1}"
        exec celery -A nexus worker --hostname "worker@%h" --concurrency "${CELERY_WORKER_CONCURRENCY:-2}" \
            --queues "$(queue_of refresh),$(queue_of precompute),$default_queue" "$@"
        ;;
    trainer)
        reset_metrics_dir
        # One training at a time per container: a fit takes the machine's memory and cores (scale with replicas).
        exec celery -A nexus worker --hostname "trainer@%h" --concurrency 1 --queues "$(queue_of training)" "$@"
        ;;
    beat)
        exec celery -A nexus beat --hostname "beat@%h" --enable-remote-control \
            --schedule "${NEXUS_VAR_DIR:-/var/lib/nexus}/celerybeat-schedule" "$@"
        ;;
    init)
        python manage.py migrate --noinput
        if catalog_is_empty; then
            first_start
        else
            echo "The catalog is loaded already: migrations only."
        fi
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
