"""Nexus settings: one file, driven by environment variables (see the configuration table in README.md).

With nothing set, Nexus runs on the embedded default: SQLite under ``var/``, an in-process cache and Celery
tasks executed eagerly. ``DATABASE_URL``, ``REDIS_URL`` and ``CELERY_BROKER_URL`` switch each piece to a real
service. ``DEBUG`` is off unless asked for, and then the secure production defaults apply.
"""

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from nexus.queues import job_queues, task_queues

BASE_DIR = Path(__file__).resolve().parent.parent
# Local development settings (scripts/run writes DEBUG and a generated SECRET_KEY there): the environment always
# wins over the file. NEXUS_ENV_FILE names another file, or none when empty (the image sets it empty, tests too),
# so that a production process without SECRET_KEY still refuses to start.
ENV_FILE = os.environ.get("NEXUS_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE:
    load_dotenv(ENV_FILE, override=False)
VAR_DIR = Path(os.environ.get("NEXUS_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (set DEBUG=1 for local development).")
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 - only ever used with DEBUG on

# The JWT signing key is distinct from SECRET_KEY; without JWT_SECRET_KEY it is derived from SECRET_KEY so that
# leaking a token-signing key never exposes the key that signs sessions and password-reset links.
JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY") or hashlib.sha256(f"nexus-jwt:{SECRET_KEY}".encode()).hexdigest()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "localhost,127.0.0.1")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "corsheaders",
    "django_filters",
    "graphene_django",
    "graphql_jwt.refresh_token.apps.RefreshTokenConfig",
    "catalog",
    "users",
    "recommender",
    "importers",
    "schema",
]

MIDDLEWARE = [
    # Outermost, so that every log line and every timing covers the whole request, redirects included.
    "nexus.request_context.RequestIdMiddleware",
    "nexus.metrics.RequestLatencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Innermost: repeats, after the view's transactions, writes that a rollback must not undo (nexus/durable.py).
    "nexus.durable.DurableWritesMiddleware",
]

ROOT_URLCONF = "nexus.urls"
WSGI_APPLICATION = "nexus.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "nexus" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------------
if not os.environ.get("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded default's SQLite file lives there
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'nexus.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, without the per-request health check of a connection known good (nexus/postgresql).
    DATABASES["default"]["ENGINE"] = "nexus.postgresql"
if os.environ.get("NEXUS_TEST_DATABASE_NAME"):
    # Lets several test runs share one PostgreSQL server without fighting over the same test database.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["NEXUS_TEST_DATABASE_NAME"]}
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")  # Django's or nexus.postgresql
# A custom list's positions are unique at commit (a deferrable constraint) on PostgreSQL; SQLite, which runs one
# writer at a time, has no such constraints, and would warn on every command of the embedded default.
SILENCED_SYSTEM_CHECKS = [] if IS_POSTGRES else ["models.W038"]
if IS_POSTGRES:
    # Title search matches when a query shares 40% of its trigrams with some run of words in the title, so that
    # "godfahter" finds "The Godfather" (pg_trgm's default of 60% is too strict for one-word typos).
    # Every statement is cut off after DATABASE_STATEMENT_TIMEOUT_MS (0: never), so that a stuck query or lock
    # wait fails one request instead of holding a web worker. Imports and training lift it for their session
    # (nexus/database.py); run one-off maintenance such as `migrate` on a large database with 0.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        "-c pg_trgm.word_similarity_threshold=0.4"
        f" -c statement_timeout={env_int('DATABASE_STATEMENT_TIMEOUT_MS', 5000)}"
    )

# Read replicas (nexus/database_router.py): comma-separated URLs of PostgreSQL streaming replicas of DATABASE_URL;
# catalog reads go to them, writes and a user's reads of their own library to the primary.
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS")
for _number, _url in enumerate(DATABASE_REPLICA_URLS):
    DATABASES[f"replica{_number}"] = {
        **dj_database_url.parse(_url, conn_max_age=DATABASES["default"]["CONN_MAX_AGE"], conn_health_checks=True),
        "ENGINE": DATABASES["default"]["ENGINE"],
        "OPTIONS": dict(DATABASES["default"].get("OPTIONS", {})),
        # Tests run against the primary's test database for every alias.
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["nexus.database_router.PrimaryReplicaRouter"] if DATABASE_REPLICA_URLS else []

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "users.User"

# --- Caches: three roles (nexus/caches.py), each on its own Redis URL (docs/security.md, "Redis layout") -----------
# One Redis serves all three unless a role has its URL set; without REDIS_URL the embedded default keeps them in
# this process (and the score store in files).
REDIS_URL = os.environ.get("REDIS_URL", "")
REDIS_CACHE_URL = os.environ.get("REDIS_CACHE_URL") or REDIS_URL
REDIS_LIMITS_URL = os.environ.get("REDIS_LIMITS_URL") or REDIS_URL
REDIS_STORE_URL = os.environ.get("REDIS_STORE_URL") or REDIS_URL


def redis_cache(url: str, key_prefix: str) -> dict:
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": key_prefix,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 2,
            "SOCKET_TIMEOUT": 2,
            # With Redis down, reads miss and writes are dropped (and logged) instead of failing the request:
            # callers then skip caching and fail open on limits.
            "IGNORE_EXCEPTIONS": True,
        },
    }


def locmem_cache(location: str, max_entries: int) -> dict:
    """The embedded default's in-process cache: it culls a third of its entries beyond ``max_entries``."""
    options = {"MAX_ENTRIES": max_entries}
    return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": location, "OPTIONS": options}


CACHES = {
    # Volatile: cached responses, persisted documents, movie cards (room for a small catalog's: at Django's default
    # 300 entries, a page of 50 movies culled a third of them).
    "default": redis_cache(REDIS_CACHE_URL, "nexus") if REDIS_CACHE_URL else locmem_cache("nexus", 20_000),
    # Never evicted: rate-limit counters, login throttles, data versions.
    "limits": redis_cache(REDIS_LIMITS_URL, "nexus-limits")
    if REDIS_LIMITS_URL
    else locmem_cache("nexus-limits", 100_000),
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
# The recommender's score store (recommender/store.py): precomputed lists, kept until a newer model replaces
# them (TIMEOUT None). On Redis under its own prefix; on the embedded default in files, so that the training
# command and the server process share it.
if REDIS_STORE_URL:
    CACHES["recommendations"] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_STORE_URL,
        "KEY_PREFIX": "nexus-recommendations",
        "TIMEOUT": None,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            # Serving falls back to popular movies when Redis is unreachable: give up quickly.
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 2,
        },
    }
else:
    CACHES["recommendations"] = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": VAR_DIR / "recommendations",
        "TIMEOUT": None,
        # Django culls a file cache at random beyond MAX_ENTRIES (300 by default): it would delete live lists.
        "OPTIONS": {"MAX_ENTRIES": 10_000_000},
    }
# Fitted models, one folder per version: the per-user refresh in a worker folds new ratings into the current
# one (with several worker hosts, a shared volume).
NEXUS_MODEL_DIR = Path(os.environ.get("NEXUS_MODEL_DIR", VAR_DIR / "models"))

# --- Celery -----------------------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
# Without a broker, tasks run in-process at enqueue time: the embedded default needs no worker.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Enqueueing happens inside web requests: with the broker down or hung it must give up within about two seconds
# (connect and AMQP handshake: 1 s, tried twice). Nothing is lost: per-user refreshes wait in the outbox
# (recommender/outbox.py) until a publish succeeds.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TIMEZONE = "UTC"
# Tasks that run away are stopped: a soft limit first (the task can record why), then the process is killed.
# Per-task limits (recommender/tasks.py) are shorter where the work is small.
CELERY_TASK_SOFT_TIME_LIMIT = 30 * 60
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
# Tasks go to this queue: deployments (and the end-to-end test) that share one broker keep their work apart.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")

# Queues by job (README, "Scaling"; nexus/queues.py), so that a long training never delays a user's refresh.
NEXUS_QUEUES = job_queues(CELERY_TASK_DEFAULT_QUEUE)
CELERY_TASK_QUEUES = task_queues(CELERY_TASK_DEFAULT_QUEUE)
# Chords (a training's precompute shards and their callback, recommender/training.py) need a result backend: the
# limits role's Redis, which never evicts. Results expire after a day. Without Redis, trainings precompute in
# their own process.
CELERY_RESULT_BACKEND = REDIS_LIMITS_URL or None
CELERY_RESULT_EXPIRES = timedelta(days=1)
# Users per precompute shard of a training run by a worker (docs/scaling.md); 0: every list in the training's own
# process. `manage.py train_recommender --shards N` fans out N shards whatever this says.
NEXUS_PRECOMPUTE_SHARD_USERS = env_int("NEXUS_PRECOMPUTE_SHARD_USERS", 0)
NEXUS_RANK_THREADS = env_int("NEXUS_RANK_THREADS", 0)  # per process; 0: one per CPU (recommender.lists.rank_threads)
CELERY_TASK_ROUTES = {
    "recommender.tasks.refresh_user": {"queue": NEXUS_QUEUES["refresh"]},
    "recommender.tasks.precompute_shard": {"queue": NEXUS_QUEUES["precompute"]},
    "recommender.tasks.train_model": {"queue": NEXUS_QUEUES["training"]},
    "recommender.tasks.precompute_finish": {"queue": NEXUS_QUEUES["training"]},
}
CELERY_BEAT_SCHEDULE = {
    # Movies TMDb changed since the last sync, and new releases (catalog/tmdb/sync.py); off without a TMDb key.
    "catalog-tmdb-nightly-sync": {
        "task": "catalog.tasks.tmdb_sync_nightly",
        "schedule": crontab(hour=2, minute=30),
        "options": {"expires": 6 * 3600},
    },
    "recommender-nightly-retrain": {
        "task": "recommender.tasks.train_model_scheduled",
        "schedule": crontab(hour=3, minute=0),
    },
    # Rating statistics recomputed from the ratings: repairs any drift of the per-rating updates (users/tasks.py).
    "users-movie-statistics-repair": {
        "task": "users.tasks.movie_statistics_repair",
        "schedule": crontab(minute=17),
        "options": {"expires": 3600},
    },
    # Refreshes that changes recorded while the broker or Redis was down (recommender/outbox.py).
    "recommender-refresh-outbox-drain": {
        "task": "recommender.tasks.refresh_outbox_drain",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 30},
    },
}

# --- Auth -------------------------------------------------------------------------------------------------------
# Passwords (logins, the admin). Access tokens are checked once per GraphQL request by
# schema/pipeline/identity.py, never by Django's authenticate(): a bearer token must not open an admin session.
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Access tokens are short-lived (at most an hour) and name the account by id; refresh tokens live server side,
# are single-use (rotated) and revocable. Handlers are in schema/users/auth.py; the token mutations below
# (JWT_ALLOW_ANY_CLASSES) run even when the request's access token is refused (schema/pipeline/identity.py).
JWT_ACCESS_TOKEN_MINUTES = env_int("JWT_ACCESS_TOKEN_MINUTES", 15)
if not 0 < JWT_ACCESS_TOKEN_MINUTES <= 60:
    raise ImproperlyConfigured("JWT_ACCESS_TOKEN_MINUTES must be between 1 and 60.")
GRAPHQL_JWT = {
    "JWT_SECRET_KEY": JWT_SECRET_KEY,
    "JWT_ALGORITHM": "HS256",
    "JWT_VERIFY": True,
    "JWT_VERIFY_EXPIRATION": True,
    "JWT_EXPIRATION_DELTA": timedelta(minutes=JWT_ACCESS_TOKEN_MINUTES),
    "JWT_LONG_RUNNING_REFRESH_TOKEN": True,
    "JWT_REFRESH_EXPIRATION_DELTA": timedelta(days=env_int("JWT_REFRESH_TOKEN_DAYS", 14)),
    "JWT_AUTH_HEADER_PREFIX": "Bearer",
    "JWT_ALLOW_ARGUMENT": False,
    "JWT_LEEWAY": 0,
    "JWT_PAYLOAD_HANDLER": "schema.users.auth.jwt_payload",
    "JWT_DECODE_HANDLER": "schema.users.auth.jwt_decode",
    "JWT_PAYLOAD_GET_USERNAME_HANDLER": "schema.users.auth.jwt_subject",
    "JWT_GET_USER_BY_NATURAL_KEY_HANDLER": "schema.users.auth.user_by_jwt_subject",
    "JWT_ALLOW_ANY_CLASSES": [
        "schema.users.mutations.Register",
        "schema.users.auth.TokenAuth",
        "schema.users.auth.VerifyToken",
        "schema.users.auth.RefreshToken",
        "schema.users.auth.RevokeToken",
    ],
    "JWT_COOKIE_SECURE": not DEBUG,
    "JWT_COOKIE_SAMESITE": "Lax",
}
# Cookie mode for browser clients: tokens are also set as HttpOnly cookies, and requests carrying them must pass
# Django's CSRF check (X-CSRFToken header).
NEXUS_JWT_COOKIE = env_bool("JWT_COOKIE", False)
# Login throttling (users/throttling.py): this many failed logins per account name or client address within the
# window refuse further logins until the window has passed.
NEXUS_LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 10)
NEXUS_LOGIN_FAILURE_WINDOW = timedelta(minutes=env_int("LOGIN_FAILURE_WINDOW_MINUTES", 15))

# --- GraphQL ----------------------------------------------------------------------------------------------------
GRAPHENE = {
    "SCHEMA": "schema.api.schema",
    "SCHEMA_OUTPUT": "schema.graphql",
    "SCHEMA_INDENT": 2,
    # No per-field middleware: the request's identity is decided once (schema/pipeline/identity.py, execution.py).
    "MIDDLEWARE": [],
    "RELAY_CONNECTION_MAX_LIMIT": 100,
    "ATOMIC_MUTATIONS": True,
}
NEXUS_GRAPHIQL = env_bool("NEXUS_GRAPHIQL", True)
NEXUS_GRAPHQL_INTROSPECTION = env_bool("NEXUS_GRAPHQL_INTROSPECTION", True)
NEXUS_MAX_PAGE_SIZE = 100
# Request limits (schema/pipeline/limits.py): what one request may ask for before anything runs.
NEXUS_GRAPHQL_MAX_DEPTH = env_int("NEXUS_GRAPHQL_MAX_DEPTH", 10)
NEXUS_GRAPHQL_MAX_ALIASES = env_int("NEXUS_GRAPHQL_MAX_ALIASES", 50)
# Cost: every field is 1, a paginated field multiplies its selection by its page size, introspection lists by the
# schema's sizes. 10,000 admits movies(first: 100) with genres and similar(first: 10) on every movie (about 1,500)
# and GraphiQL's introspection query (about 5,600), and refuses runaway nesting.
NEXUS_GRAPHQL_MAX_COST = env_int("NEXUS_GRAPHQL_MAX_COST", 10_000)
# Each password a mutation hashes or checks (Argon2: about 240 ms of one core) costs this much, so that an address's
# anonymous budget (100,000 a minute) buys 24 logins, under 6 core-seconds a minute; changePassword (two hashes,
# 8,003 in all) stays within the maximum cost of one operation. See README, "Limits and caching".
NEXUS_GRAPHQL_PASSWORD_COST = env_int("NEXUS_GRAPHQL_PASSWORD_COST", 4_000)
NEXUS_GRAPHQL_MAX_DOCUMENT_BYTES = env_int("NEXUS_GRAPHQL_MAX_DOCUMENT_BYTES", 100 * 1024)
NEXUS_GRAPHQL_MAX_BATCH = env_int("NEXUS_GRAPHQL_MAX_BATCH", 10)  # operations in one JSON array body; 0 = no batches
NEXUS_GRAPHQL_MAX_MUTATIONS = env_int("NEXUS_GRAPHQL_MAX_MUTATIONS", 5)
# Rate limits (schema/pipeline/ratelimit.py): cost points per window per user / per client address; 0 = off.
NEXUS_RATE_LIMIT_USER = env_int("NEXUS_RATE_LIMIT_USER", 200_000)
NEXUS_RATE_LIMIT_ANON = env_int("NEXUS_RATE_LIMIT_ANON", 100_000)
NEXUS_RATE_LIMIT_WINDOW = env_int("NEXUS_RATE_LIMIT_WINDOW", 60)
# New persisted-query documents (schema/pipeline/persisted.py) one rate-limit subject may store per window; beyond it a
# document still runs but is not stored.
NEXUS_PERSISTED_QUERY_MAX_REGISTRATIONS = env_int("NEXUS_PERSISTED_QUERY_MAX_REGISTRATIONS", 30)
# How many reverse proxies in front of Nexus append to X-Forwarded-For; 0 = clients connect directly.
NEXUS_TRUSTED_PROXIES = env_int("NEXUS_TRUSTED_PROXIES", 0)
# Query responses (anonymous, and each signed-in user's own) are cached this many seconds
# (schema/pipeline/response_cache.py); 0 = off.
NEXUS_RESPONSE_CACHE_SECONDS = env_int("NEXUS_RESPONSE_CACHE_SECONDS", 300)
# Each process re-reads the catalog's and the model's versions at most this often (nexus/versions.py): a change
# made elsewhere reaches cached answers this much later. 0 = on every request.
NEXUS_SHARED_VERSION_SECONDS = env_int("NEXUS_SHARED_VERSION_SECONDS", 1)
# A rating changes its movie's statistics at once for the rater and on the movie's card; cached catalog answers
# (lists, their order and counts) show them at most this many seconds later (catalog/cards.py).
NEXUS_STATISTICS_STALENESS_SECONDS = env_int("NEXUS_STATISTICS_STALENESS_SECONDS", 60)
# A user's recommendations are refreshed this many seconds after a change of their library (users/events.py): the
# changes of that time share one refresh.
NEXUS_REFRESH_DELAY_SECONDS = float(os.environ.get("NEXUS_REFRESH_DELAY_SECONDS", "0.5"))

# Bayesian average of a movie's rating: (PRIOR_WEIGHT * PRIOR_MEAN + sum of scores) / (PRIOR_WEIGHT + count).
# Fixed constants (MovieLens' long-run mean is about 3.5) keep every update a pure function of the movie's own rows.
NEXUS_RATING_PRIOR_MEAN = float(os.environ.get("NEXUS_RATING_PRIOR_MEAN", "3.5"))
NEXUS_RATING_PRIOR_WEIGHT = float(os.environ.get("NEXUS_RATING_PRIOR_WEIGHT", "10"))

# Library imports (importLibrary): the largest file accepted, in bytes, in a GraphQL multipart request
# (schema/pipeline/multipart.py refuses a bigger request before reading it, with UPLOAD_TOO_LARGE).
NEXUS_UPLOAD_MAX_BYTES = env_int("NEXUS_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
# Custom lists (users/custom_lists.py): how many an account may have, and how many movies one may hold; beyond
# them, createList and addToList answer LIMIT_EXCEEDED.
NEXUS_LISTS_MAX_PER_USER = env_int("NEXUS_LISTS_MAX_PER_USER", 100)
NEXUS_LIST_MAX_MOVIES = env_int("NEXUS_LIST_MAX_MOVIES", 1000)

NEXUS_MOVIELENS = os.environ.get("NEXUS_MOVIELENS", "")
TMDB_IMAGE_BASE_URL = os.environ.get("TMDB_IMAGE_BASE_URL", "https://image.tmdb.org/t/p/w500")
# The TMDb API (catalog/tmdb): a v3 key or a v4 read access token turns sync_tmdb on; without either it is off.
TMDB_API_KEY = os.environ.get("TMDB_API_KEY", "")
TMDB_READ_ACCESS_TOKEN = os.environ.get("TMDB_READ_ACCESS_TOKEN", "")
TMDB_API_BASE_URL = os.environ.get("TMDB_API_BASE_URL", "https://api.themoviedb.org/3").rstrip("/")
TMDB_CERTIFICATION_COUNTRY = os.environ.get("TMDB_CERTIFICATION_COUNTRY", "US").upper()
# Client-side limit, below TMDb's (about 50 per second), and the retries of a throttled or failing request.
TMDB_REQUESTS_PER_SECOND = float(os.environ.get("TMDB_REQUESTS_PER_SECOND", "20"))
TMDB_TIMEOUT_SECONDS = float(os.environ.get("TMDB_TIMEOUT_SECONDS", "10"))
TMDB_RETRIES = env_int("TMDB_RETRIES", 4)
TMDB_BACKOFF_SECONDS = float(os.environ.get("TMDB_BACKOFF_SECONDS", "1"))

# --- HTTP security ----------------------------------------------------------------------------------------------
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_ALLOW_CREDENTIALS = True
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if NEXUS_TRUSTED_PROXIES > 0:
    # Only a proxy may say the client spoke HTTPS: without one, a client could claim it and get HSTS over plain HTTP.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Probes and scrapers call the container directly over plain HTTP; a redirect to HTTPS would fail them.
    SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Static files, i18n -----------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "nexus" / "static"]
if not DEBUG:
    # Plain (not manifest) storage: templates render even where collectstatic has not run, tests included,
    # while collectstatic still writes the compressed copies WhiteNoise serves. Vendored assets carry their
    # version in their path, so short-lived caching never serves a stale file after an upgrade.
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    }
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Operations: metrics and logs -------------------------------------------------------------------------------
# /metrics is open to whoever reaches the port; with a token set it needs "Authorization: Bearer <token>".
NEXUS_METRICS_TOKEN = os.environ.get("NEXUS_METRICS_TOKEN", "")
# Operation names counted under their own label (nexus/metrics.py); any other name is counted as "other", so that
# clients cannot create series at will. GraphiQL's introspection and the benchmark's named operations by default.
NEXUS_METRICS_OPERATIONS = frozenset(env_list("NEXUS_METRICS_OPERATIONS", "IntrospectionQuery,Login,Rate"))
# A Celery worker serves its own metrics on this port when set (see nexus/metrics.py).
NEXUS_WORKER_METRICS_PORT = env_int("NEXUS_WORKER_METRICS_PORT", 0)

# JSON lines for log collectors in production, plain text for people at a terminal; both carry the request id.
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "nexus.request_context.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
