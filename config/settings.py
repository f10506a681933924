"""Settings, all from the environment (see .env.example). Unset, the embedded default runs:
SQLite and projections in-process after commit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.secrets import secret_key
from telemetry.logs import logging_config
from telemetry.sentry import init_sentry

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
# The process environment wins over the file; ENV_FILE names another file (or none: "").
_env_file = env("ENV_FILE", default=str(BASE_DIR / ".env"))
if _env_file:
    environ.Env.read_env(_env_file, overwrite=False)

# Fail closed: without an explicit DEBUG=true (`make run` sets it) the app runs as in
# production, and production refuses to start without a real secret.
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = secret_key(env("SECRET_KEY", default=""), debug=DEBUG)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "config.admin_site.BackOfficeAdminConfig",  # django.contrib.admin, branded and in sections
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "eventlog",
    "projector",  # the projection engine: runs settings.PROJECTIONS
    "orders",
    "inventory",
    "fulfilment",
    "readmodels",
    "notifications",
    "integration",  # public events out, partner events in (AMQP)
    "archive",  # closed order streams to cold storage (docs/operations.md, "Archive")
    "retention",  # prunes command records, audit rows, dead letters, emails' payloads by policy
    "demo",  # `manage.py seed_demo`: a shop's worth of demo data (make run)
]
# The benchmarks' app (`manage.py bench`) only where the Makefile's bench targets ask for it:
# a production process never loads it.
if env.bool("BENCH", default=False):
    INSTALLED_APPS.append("bench")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "web.middleware.ApiProblemsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes requires: turns a lockout flagged during the view into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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


def _database(url: str) -> dict[str, object]:
    config: dict[str, object] = env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Django's backend, with one process's writers served in turn (config/sqlite/base.py).
        config["ENGINE"] = "config.sqlite"
        # IMMEDIATE takes the write lock at BEGIN, so concurrent requests queue instead of
        # failing with "database is locked" when a read transaction upgrades to a write.
        # WAL lets readers (the admin, the API, a projector catching up) read while a command
        # commits: in the default rollback journal every reader holds off the writer's commit,
        # and writers queued behind a busy reader ran out of their timeout under load.
        # synchronous stays FULL: a committed command is on disk when the request answers.
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
        }
        # Tests get a file too, as `make run` has, not Django's shared in-memory database: there
        # a writer meeting another fails at once ("table is locked") instead of queueing, so
        # concurrent writers would not be tested as the embedded default runs them.
        if config["NAME"] not in ("", ":memory:"):
            config["TEST"] = {"NAME": f"{config['NAME']}-test"}
    else:
        config["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
        config["CONN_HEALTH_CHECKS"] = True
        # An unreachable database answers 503 within this bound instead of holding a web worker.
        # psycopg prepares a statement its server-side-binding cursors (the event store's,
        # eventlog/postgres.py) have run this many times on a connection; Django's default (None)
        # would have the server parse and plan a command's statements every time.
        config["OPTIONS"] = {"connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT", default=5), "prepare_threshold": 5}
    return config


DATABASES = {"default": _database(env("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}
READ_DATABASE_URL = env("READ_DATABASE_URL", default="")
if READ_DATABASE_URL:
    DATABASES["read"] = _database(READ_DATABASE_URL)
DATABASE_ROUTERS = ["config.routers.ReadModelRouter"]
# Where the event store lives, and where read models and their tracking rows live.
EVENTLOG_DATABASE = "default"
READMODELS_DATABASE = "read" if READ_DATABASE_URL else "default"
# The event store and command log implementations (dotted paths): the PostgreSQL fast path on
# PostgreSQL, the portable ORM one elsewhere (eventlog/store.py, eventlog/postgres.py).
_EVENTLOG_ON_POSTGRESQL = DATABASES[EVENTLOG_DATABASE]["ENGINE"] == "django.db.backends.postgresql"
EVENT_STORE = "eventlog.postgres.PostgresEventStore" if _EVENTLOG_ON_POSTGRESQL else "eventlog.store.EventStore"
COMMAND_LOG = "eventlog.postgres.PostgresCommandLog" if _EVENTLOG_ON_POSTGRESQL else "eventlog.idempotency.CommandLog"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

# Transport security. Production sits behind a TLS-terminating proxy: HTTPS (default on unless
# DEBUG) redirects plain HTTP, marks cookies Secure and sends HSTS. A local stack on plain HTTP
# (`make up` on 127.0.0.1) sets HTTPS=false.
HTTPS = env.bool("HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Trust X-Forwarded-Proto only when a proxy we run sets it (and strips the client's).
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
LOGIN_URL = "/admin/login/"

# Event store
SNAPSHOT_EVERY = env.int("SNAPSHOT_EVERY", default=50)
# Archive (archive/, docs/operations.md): order streams closed (and owing nothing) longer than
# this many days move to cold storage, when `manage.py archive_streams` or beat runs it.
ARCHIVE_AFTER_DAYS = env.int("ARCHIVE_AFTER_DAYS", default=180)
# Beat runs the archiver this often; 0 (the default): only when an operator runs the command.
ARCHIVE_INTERVAL_SECONDS = env.float("ARCHIVE_INTERVAL_SECONDS", default=0.0)
# The alias the archiver works on (production: the log's database, as the archiver's role).
ARCHIVE_DATABASE = EVENTLOG_DATABASE
# Where segments live: the local filesystem by default; any Django storage backend by dotted
# path, e.g. "storages.backends.s3.S3Storage" (django-storages) with ARCHIVE_STORAGE_OPTIONS
# as JSON ({"bucket_name": ..., "endpoint_url": ...}).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "archive": {
        "BACKEND": env("ARCHIVE_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("ARCHIVE_STORAGE_OPTIONS", default={"location": str(BASE_DIR / "archive-segments")}),
    },
}
# Events one order may have; item changes beyond what leaves room for its lifecycle get a 422
# (orders/domain.py). Bounds every stream, its history and its replay. At least 6.
MAX_EVENTS_PER_ORDER = env.int("MAX_EVENTS_PER_ORDER", default=1000)
# Called after each committing unit of work with its recorded events (wiring, not logic).
EVENT_SUBSCRIBERS = env.list("EVENT_SUBSCRIBERS", default=["projector.dispatch.on_events_committed"])
# The consumers of the event log the projection engine runs, in this order (wiring, not logic):
# the engine loads them by dotted path and imports none of them. The integration relay joins
# when a broker for it is configured (below).
PROJECTIONS = [
    "readmodels.projections.orders.OrdersProjection",
    "readmodels.projections.sales.SalesProjection",
    "readmodels.projections.products.ProductsProjection",
    "fulfilment.manager.FulfilmentProcessManager",  # a process manager: sends commands
    "fulfilment.deadlines.PaymentDeadlines",  # payment deadlines: beat sends their commands
    "notifications.projection.NotificationsProjection",  # owes emails, sent after commit
]

# The checks `manage.py verify` runs, by name, in this order (wiring, not logic: the engine
# loads them by dotted path, projector/verification.py). Each returns its divergences.
VERIFY_CHECKS = {
    "read-models": "projector.comparison.read_models",
    "relay": "integration.verification.unpublished_events",
    "forgotten": "readmodels.verification.forgotten_customers",
    "audit": "audit.verification.unaudited_commands",
    "stock": "readmodels.stock_balance.stock_balances",
    "reservations": "fulfilment.verification.reservations_held",
    "sales": "readmodels.sales_balance.daily_sales_balances",
    "refunds": "readmodels.refund_balance.refunds_owed",
}

# Celery: with no broker configured, projections run in-process after commit.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
PROJECTIONS_INLINE = env.bool("PROJECTIONS_INLINE", default=not CELERY_BROKER_URL)
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="backoffice")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker waits out a broker outage of any length (Celery gives up after 100 attempts by
# default, some 45 minutes, and the worker exits); reconnects back off up to 30 s apart.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport with the guard that keeps a worker alive when Redis goes away.
    CELERY_BROKER_TRANSPORT = "config.redis_transport:Transport"
# Celery's Django fixup closes every database connection before and after every task unless
# it has counted this many task starts and ends; config/celery.py closes them as Django does
# after a request instead (broken, or past CONN_MAX_AGE), so the fixup's closing is turned off.
CELERY_DB_REUSE_MAX = 2**62
# Longer than any task can run, so Redis does not redeliver a task still in progress.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_timeout": 2, "socket_connect_timeout": 2}
# Bound how long a commit's doorbell may block on an unreachable broker.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
BROKER_FAILURE_COOLDOWN_SECONDS = env.float("BROKER_FAILURE_COOLDOWN_SECONDS", default=5.0)
CELERY_TIMEZONE = "UTC"
CATCH_UP_INTERVAL_SECONDS = env.float("CATCH_UP_INTERVAL_SECONDS", default=5.0)
CELERY_BEAT_SCHEDULE = {
    "catch-up-projections": {"task": "projector.catch_up", "schedule": CATCH_UP_INTERVAL_SECONDS},
    "send-notifications": {"task": "notifications.send", "schedule": CATCH_UP_INTERVAL_SECONDS},
    # Cancels confirmed orders left unpaid PAYMENT_DEADLINE_SECONDS (fulfilment/deadlines.py); an
    # old message is no news: the next one finds the same due deadlines.
    "expire-payment-deadlines": {
        "task": "fulfilment.expire_payment_deadlines",
        "schedule": CATCH_UP_INTERVAL_SECONDS,
        "options": {"expires": CATCH_UP_INTERVAL_SECONDS * 4},
    },
}
# A confirmed order not paid within this many seconds is cancelled ("payment deadline passed").
PAYMENT_DEADLINE_SECONDS = env.float("PAYMENT_DEADLINE_SECONDS", default=172_800.0)

# Retention (retention/, docs/operations.md "Retention"): what the hot tables keep, in days; 0
# keeps forever. The event log is never pruned here. Beat runs `manage.py prune`'s policies
# every RETENTION_INTERVAL_SECONDS, in batches of RETENTION_BATCH_SIZE rows, one transaction each.
# A command record answers a retry of its command (Idempotency-Key, a partner's message id, a
# process manager's derived id) this long; a retry after that is a new command. Never under 1
# day: the database refuses younger ones (eventlog/migrations/0005).
IDEMPOTENCY_RETENTION_DAYS = env.int("IDEMPOTENCY_RETENTION_DAYS", default=30)
# Who asked for what: kept forever by default (a shop's books may need years). When set, at
# least IDEMPOTENCY_RETENTION_DAYS: `verify` expects an audit row for every command record.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=0)
# Projection dead letters resolved by a retry, counted from their resolution. Skipped ones are
# operator decisions every replay honours: never pruned, nor are unresolved ones.
DEAD_LETTER_RETENTION_DAYS = env.int("DEAD_LETTER_RETENTION_DAYS", default=30)
# Sent (or given up) customer emails: their recipient, subject and error are blanked this long
# after the event; the row stays, so the event still owes no second email.
NOTIFICATION_PAYLOAD_RETENTION_DAYS = env.int("NOTIFICATION_PAYLOAD_RETENTION_DAYS", default=30)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=1000)
RETENTION_INTERVAL_SECONDS = env.float("RETENTION_INTERVAL_SECONDS", default=3600.0)
if (
    min(
        IDEMPOTENCY_RETENTION_DAYS,
        AUDIT_RETENTION_DAYS,
        DEAD_LETTER_RETENTION_DAYS,
        NOTIFICATION_PAYLOAD_RETENTION_DAYS,
    )
    < 0
    or RETENTION_BATCH_SIZE < 1
):
    raise ImproperlyConfigured("Retention days must be 0 (keep) or more, and RETENTION_BATCH_SIZE at least 1")
if AUDIT_RETENTION_DAYS and not 0 < IDEMPOTENCY_RETENTION_DAYS <= AUDIT_RETENTION_DAYS:
    raise ImproperlyConfigured(
        "AUDIT_RETENTION_DAYS must be 0 (keep) or at least IDEMPOTENCY_RETENTION_DAYS (and that not 0):"
        " every command record keeps its audit row"
    )
CELERY_BEAT_SCHEDULE["prune-by-retention-policy"] = {
    "task": "retention.prune",
    "schedule": RETENTION_INTERVAL_SECONDS,
    "options": {"expires": RETENTION_INTERVAL_SECONDS},  # the next one prunes the same rows
}

# Projections. PROJECTION_PARTITIONS splits each projection's streams into partitions
# projected in parallel; changing it on a live system needs `rebuild_projections`.
PROJECTION_PARTITIONS = env.int("PROJECTION_PARTITIONS", default=4)
PROJECTION_BATCH_SIZE = env.int("PROJECTION_BATCH_SIZE", default=500)
PROJECTION_MAX_BATCHES_PER_TASK = env.int("PROJECTION_MAX_BATCHES_PER_TASK", default=20)
PROJECTION_MAX_ATTEMPTS = env.int("PROJECTION_MAX_ATTEMPTS", default=5)
PROJECTION_RETRY_BASE_SECONDS = env.float("PROJECTION_RETRY_BASE_SECONDS", default=2.0)
REBUILD_BATCH_SIZE = env.int("REBUILD_BATCH_SIZE", default=2000)
# Timeline entries an order's detail keeps (the latest; the history has them all), so a
# projection write costs the same at any event. Changing it needs `rebuild_projections orders`.
ORDER_TIMELINE_ENTRIES = env.int("ORDER_TIMELINE_ENTRIES", default=50)
# A product is low on stock when what is available (on hand, less reserved) is at most this
# (GET /api/products/?low_stock=true).
LOW_STOCK_THRESHOLD = env.int("LOW_STOCK_THRESHOLD", default=5)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "web.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "web.errors.problem_exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "web.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "commands": env("THROTTLE_COMMANDS", default="6000/min"),
        "queries": env("THROTTLE_QUERIES", default="12000/min"),
        "auth": env("THROTTLE_AUTH", default="60/min"),
        "auth_username": env("THROTTLE_AUTH_USERNAME", default="10/min"),
    },
    # How many reverse proxies in front of the app append to X-Forwarded-For; 0 trusts only
    # REMOTE_ADDR. Throttles and lockouts key on the address this yields (never a header a
    # client could rotate).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Order back office API",
    "DESCRIPTION": "Commands change one order and answer with ids; queries read read models.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
# Authentication: a stolen token must stop working and guessing must not pay — expiring,
# revocable tokens (django-rest-knox) and lockout after repeated failures (django-axes,
# database handler: a login needs only PostgreSQL).
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.float("TOKEN_TTL_HOURS", default=10.0)),
    "AUTH_HEADER_PREFIX": "Token",  # the contract's scheme: `Authorization: Token <token>`
}
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before any password check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=15.0))
# Username and address together: a source is stopped guessing one account, while nobody can
# lock an account's owner out from elsewhere by failing on purpose. Spraying many usernames
# from one address is bounded by the per-address throttle, guessing one account from many
# addresses by the per-username throttle (docs/api.md, Auth).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# No access log of successful logins: axes keys it by session, and a token login has none (axes
# would create one and answer the API client with a session cookie). Failures and lockouts are
# still recorded (AccessAttempt) and logged; user.last_login keeps each user's latest sign-in.
AXES_DISABLE_ACCESS_LOG = True
AXES_CLIENT_IP_CALLABLE = "web.throttles.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"

READ_YOUR_WRITES_TIMEOUT = env.float("READ_YOUR_WRITES_TIMEOUT", default=2.0)
# How many ?min_position= waits one user may have in progress at once; more answer at once.
READ_YOUR_WRITES_WAITS_PER_USER = env.int("READ_YOUR_WRITES_WAITS_PER_USER", default=2)
# Hostile input under /api/: bodies over this size answer 413, JSON nested deeper 400.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1_048_576)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)
# Retry-After (seconds) on a 503 when the database cannot be reached.
RETRY_AFTER_SECONDS = env.int("RETRY_AFTER_SECONDS", default=5)

# Shared between web and workers when Redis is there (rebuild progress, throttling).
CACHE_URL = env("CACHE_URL", default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "")
# Bounded socket waits: an unreachable Redis costs a request at most this, and the
# throttles then skip the cache for THROTTLE_CACHE_COOLDOWN_SECONDS (web/throttles.py).
REDIS_CACHE_OPTIONS: dict[str, float] = {
    "socket_connect_timeout": env.float("CACHE_CONNECT_TIMEOUT_SECONDS", default=0.5),
    "socket_timeout": env.float("CACHE_SOCKET_TIMEOUT_SECONDS", default=0.5),
}
CACHES: dict[str, dict[str, object]] = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": CACHE_URL, "OPTIONS": REDIS_CACHE_OPTIONS}}
THROTTLE_CACHE_COOLDOWN_SECONDS = env.float("THROTTLE_CACHE_COOLDOWN_SECONDS", default=5.0)
# At most one waiting doorbell per partition (projector/doorbell.py); needs the shared cache.
DOORBELL_COALESCING = env.bool("DOORBELL_COALESCING", default=bool(CACHE_URL))
DOORBELL_PENDING_SECONDS = env.float("DOORBELL_PENDING_SECONDS", default=10.0)

# Customer emails (notifications/). EMAIL_URL like smtp+tls://user:password@host:587; unset,
# emails are printed to the console. EMAIL_BACKEND, if set, names a backend class instead.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = env("EMAIL_BACKEND", default=_email["EMAIL_BACKEND"])
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = int(_email.get("EMAIL_PORT") or 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=_email.get("EMAIL_FILE_PATH") or "")
# Seconds an SMTP connect, read or write may wait. Django's default is to wait forever, and a
# sender holds the rows it is sending locked (notifications/sending.py): a hung mail server
# would hold them, and a forgetting's scrub of those rows would wait behind it.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Order back office <orders@backoffice.example>")
NOTIFICATION_MESSAGE_ID_DOMAIN = env("NOTIFICATION_MESSAGE_ID_DOMAIN", default="backoffice.example")
NOTIFICATION_MAX_AGE_SECONDS = env.float("NOTIFICATION_MAX_AGE_SECONDS", default=86_400.0)
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=8)
NOTIFICATION_RETRY_BASE_SECONDS = env.float("NOTIFICATION_RETRY_BASE_SECONDS", default=30.0)

# Integration events (integration/ and docs/events.md): other systems learn of orders without
# reading our tables. Unset (the embedded default, `make run`): no relay and no consumer;
# nothing is published or consumed.
INTEGRATION_BROKER_URL = env("INTEGRATION_BROKER_URL", default="")
if INTEGRATION_BROKER_URL:  # the outbound relay, after the read models
    PROJECTIONS = [*PROJECTIONS, "integration.relay.RelayProjection"]
INTEGRATION_BROKER_TIMEOUT_SECONDS = env.float("INTEGRATION_BROKER_TIMEOUT_SECONDS", default=5.0)
# After the relay's publish fails (broker down, refusing or not confirming), it tries again only
# after this wait, doubled with each failure in a row up to the maximum (integration/broker.py).
INTEGRATION_PUBLISH_BACKOFF_SECONDS = env.float("INTEGRATION_PUBLISH_BACKOFF_SECONDS", default=1.0)
INTEGRATION_PUBLISH_BACKOFF_MAX_SECONDS = env.float("INTEGRATION_PUBLISH_BACKOFF_MAX_SECONDS", default=30.0)
INTEGRATION_EVENTS_EXCHANGE = env("INTEGRATION_EVENTS_EXCHANGE", default="backoffice.events")
INTEGRATION_INBOUND_EXCHANGE = env("INTEGRATION_INBOUND_EXCHANGE", default="backoffice.inbound")
INTEGRATION_INBOUND_QUEUE = env("INTEGRATION_INBOUND_QUEUE", default="backoffice.inbound")
INTEGRATION_DEAD_LETTER_EXCHANGE = env("INTEGRATION_DEAD_LETTER_EXCHANGE", default="backoffice.inbound.dlx")
INTEGRATION_DEAD_LETTER_QUEUE = env("INTEGRATION_DEAD_LETTER_QUEUE", default="backoffice.inbound.dead")
# The inbound consumer (integration/consumer.py): unacknowledged messages it holds at once, and
# the growing delays (one TTL'd queue each) before a transient failure is tried again.
INTEGRATION_CONSUMER_PREFETCH = env.int("INTEGRATION_CONSUMER_PREFETCH", default=4)
INTEGRATION_RETRY_DELAYS_SECONDS = [
    float(delay) for delay in env.list("INTEGRATION_RETRY_DELAYS_SECONDS", default=["1", "5", "30", "120"])
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
}

# --- Operability: health probes, metrics, the beat heartbeat (what an operator watches) ---
INSTALLED_APPS += ["django_prometheus", "monitoring", "audit"]
# Request metrics (django-prometheus): first and last, so they time everything in between.
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "monitoring.middleware.RequestContextMiddleware",
    *MIDDLEWARE,
    # django-prometheus's PrometheusAfterMiddleware, its labels bounded (monitoring/middleware.py).
    "monitoring.middleware.RequestMetricsMiddleware",
]
# Load balancers and Prometheus probe the app itself over plain HTTP (TLS ends at the proxy):
# these answer there instead of redirecting to an https:// the app does not speak.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
# /health/ready answers 503 while a projection's oldest unapplied event is older than this.
READY_MAX_LAG_SECONDS = env.float("READY_MAX_LAG_SECONDS", default=60.0)
READY_BROKER_TIMEOUT_SECONDS = env.int("READY_BROKER_TIMEOUT_SECONDS", default=1)
# Beat's heartbeat is reported "stale" past this age (not failing readiness: monitoring/health.py).
READY_MAX_HEARTBEAT_AGE_SECONDS = env.float(
    "READY_MAX_HEARTBEAT_AGE_SECONDS", default=max(60.0, 6 * CATCH_UP_INTERVAL_SECONDS)
)
# Unset: /metrics is open (keep it off the public proxy); set: `Authorization: Bearer <token>`.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# prometheus_client's multiprocess mode writes into this directory and refuses to start when it
# is missing: create it here, before any app imports prometheus_client. (Emptying it belongs to
# whoever starts the host's processes: `make up` does.)
if env("PROMETHEUS_MULTIPROC_DIR", default=""):
    Path(env("PROMETHEUS_MULTIPROC_DIR")).mkdir(parents=True, exist_ok=True)
EVENT_SUBSCRIBERS = [*EVENT_SUBSCRIBERS, "telemetry.counters.count_appended"]
CELERY_BEAT_SCHEDULE["heartbeat"] = {
    "task": "monitoring.heartbeat",
    "schedule": CATCH_UP_INTERVAL_SECONDS,
    "options": {"expires": CATCH_UP_INTERVAL_SECONDS * 4},  # an old beat is no news
}
# The command bus's middleware, outermost first (writeside/pipeline.py): every command tried is
# logged, counted and audited here, whoever sent it (API, admin, process manager, seed).
COMMAND_MIDDLEWARE = [
    "monitoring.pipeline.log_command",
    "monitoring.pipeline.measure_command",
    "audit.middleware.record_command",
]
# The query bus's middleware (readmodels/queries.py): the same logging and metrics for queries.
QUERY_MIDDLEWARE = ["monitoring.pipeline.log_query", "monitoring.pipeline.measure_query"]
# Structured logs (telemetry/logs.py): JSON lines, or LOG_FORMAT=console (`make run`).
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING = logging_config(LOG_FORMAT, env("LOG_LEVEL", default="WARNING"), env("APP_LOG_LEVEL", default="INFO"))
# Worker and beat keep this configuration instead of Celery's own (telemetry.logs).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Error tracking (telemetry/sentry.py): nothing is initialised without SENTRY_DSN.
SENTRY_ENABLED = init_sentry(
    env("SENTRY_DSN", default=""),
    environment=env("SENTRY_ENVIRONMENT", default=""),
    release=env("SENTRY_RELEASE", default=""),
    traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
)

if ARCHIVE_INTERVAL_SECONDS > 0:
    # Off by default: archiving is a choice of the operator (docs/operations.md, "Archive").
    CELERY_BEAT_SCHEDULE["archive-streams"] = {
        "task": "archive.archive_streams",
        "schedule": ARCHIVE_INTERVAL_SECONDS,
        "options": {"queue": env("ARCHIVE_QUEUE", default="archive"), "expires": ARCHIVE_INTERVAL_SECONDS},
    }
