# syntax=docker/dockerfile:1
# One image for every Nexus process; the first argument picks the role (docker/entrypoint.sh):
#   web (gunicorn, the default), worker (Celery worker), beat (Celery beat), init (migrate, first import, train).
#   docker build -t nexus .    docker compose up    (see README.md, "Deploying")

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- dependencies: a virtual environment with the pinned versions of requirements.lock, and nothing of the build -
FROM ${PYTHON_IMAGE} AS dependencies
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
# Only the lock comes in here, so this slow layer is rebuilt when the dependencies change, not the code. It pins
# pyproject.toml's [project] dependencies (scripts/lock writes it), each with its hashes, which pip checks. The
# project itself is not installed: it runs from /app (PYTHONPATH).
COPY requirements.lock ./
RUN pip install --require-hashes --requirement requirements.lock

# --- runtime: the environment, the code, the collected static files; runs as an unprivileged user -------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=nexus.settings \
    NEXUS_VAR_DIR=/var/lib/nexus \
    STATIC_ROOT=/app/staticfiles \
    NEXUS_ENV_FILE= \
    PORT=8000
RUN groupadd --system --gid 10001 nexus \
    && useradd --system --uid 10001 --gid nexus --home-dir /var/lib/nexus --shell /usr/sbin/nologin nexus \
    && install --directory --owner nexus --group nexus /var/lib/nexus
COPY --from=dependencies /opt/venv /opt/venv
WORKDIR /app
# The code stays owned by root: the process that serves it cannot change it.
COPY . .
# Collected once, here: WhiteNoise serves them (compressed) from the image. The key only lets settings load.
RUN SECRET_KEY=collectstatic-needs-no-real-key python manage.py collectstatic --noinput --verbosity 0
# Numeric, so that an orchestrator can verify "runs as non-root" without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "docker/healthcheck.py"]
ENTRYPOINT ["docker/entrypoint.sh"]
CMD ["web"]
