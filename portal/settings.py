"""Settings for the VAS Task Portal.

Every setting comes from the environment through one ``environ.Env()`` (a ``.env`` file beside
``manage.py`` is honoured). ``DEBUG`` defaults to false, and production secrets are required then:
a missing one stops start-up with ``ImproperlyConfigured`` naming the variable.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)


def _required_in_production(name: str) -> str:
    value = env.str(name, default="")
    if not value and not DEBUG:
        raise ImproperlyConfigured(
            f"{name} must be set when DEBUG is false (see .env.example and the README)."
        )
    return value


SECRET_KEY = _required_in_production("SECRET_KEY") or "insecure-development-only-key"
# Comma-separated Fernet keys, newest first (MultiFernet). Never derived from SECRET_KEY.
PORTAL_CREDENTIALS_KEYS = [
    key.strip()
    for key in _required_in_production("PORTAL_CREDENTIALS_KEYS").split(",")
    if key.strip()
]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
PORTAL_HTTPS = env.bool("PORTAL_HTTPS", default=not DEBUG)

PORTAL_UPSTREAM_ALLOWED_HOSTS = env.list(
    "PORTAL_UPSTREAM_ALLOWED_HOSTS", default=[".myhuaweicloud.com"]
)
_connect, _read = (float(x) for x in env.list("PORTAL_UPSTREAM_TIMEOUT", default=["3", "10"]))
PORTAL_UPSTREAM_TIMEOUT = (_connect, _read)
PORTAL_DEFAULT_CACHE_TTL = env.int("PORTAL_DEFAULT_CACHE_TTL", default=30)
PORTAL_API_RATE = env.str("PORTAL_API_RATE", default="600/min")
PORTAL_REFRESH_RATE = env.str("PORTAL_REFRESH_RATE", default="30/min")
# Calls that reach the upstream (cache misses, refreshes, task lists, polls), as token buckets:
# per user (pages and API together) and per project (the Huawei quota everyone in it shares).
PORTAL_UPSTREAM_USER_RATE = env.str("PORTAL_UPSTREAM_USER_RATE", default="120/min")
PORTAL_UPSTREAM_PROJECT_RATE = env.str("PORTAL_UPSTREAM_PROJECT_RATE", default="600/min")
# Two-factor login is mandatory for staff and every project admin (tasks.services.accounts).
PORTAL_REQUIRE_2FA = env.bool("PORTAL_REQUIRE_2FA", default=False)
OTP_TOTP_ISSUER = env.str("PORTAL_2FA_ISSUER", default="VAS Task Portal")

# The monitor (tasks.worker): absolute links in notifications, where the queue lives, which hosts
# a notification URL may name (empty = any public host; private and loopback only when listed).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
PORTAL_WORKER_URL = env.str("PORTAL_WORKER_URL", default="")
PORTAL_NOTIFY_ALLOWED_HOSTS = env.list("PORTAL_NOTIFY_ALLOWED_HOSTS", default=[])
# Upstream calls one project's poll makes at once (the tasks missing from the list).
PORTAL_POLL_CONCURRENCY = env.int("PORTAL_POLL_CONCURRENCY", default=4)
# Threads of one `manage.py runworker`.
PORTAL_WORKER_THREADS = env.int("PORTAL_WORKER_THREADS", default=4)
# Email channels go through Django's email settings: the console in development, SMTP in
# production, e.g. EMAIL_URL=smtp+tls://user:password@smtp.example.com:587.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="vas-portal@localhost")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    # Two-factor login (TOTP and recovery codes): the devices and their throttled checks.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "tasks",
]

MIDDLEWARE = [
    # Before anything reads the request: a NUL anywhere in it is the contract's 400 (portal.edge).
    "portal.edge.RefuseNulMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the session's user from the memo (tasks.caching.memo).
    "tasks.caching.middleware.MemoAuthenticationMiddleware",
    # A signed-in user's saved language when the browser has no language cookie.
    "portal.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A session still owing its two-factor code reaches only the code page (tasks.web.two_factor).
    "tasks.web.two_factor.TwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "django.template.context_processors.i18n",
                "portal.context_processors.site",
            ],
            # The HTML side's template tags live with the rest of it, in tasks.web.
            "libraries": {
                "task_extras": "tasks.web.templatetags.task_extras",
                "fleet_extras": "tasks.web.templatetags.fleet_extras",
            },
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (single-flight, poll_tasks) write; wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    # Tests use a file, not memory: threads and the live server share it, and tests can read it.
    # One file per test process, so two test runs on one checkout cannot collide.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

CACHE_LOCAL_DURING_OUTAGE = ("task:", "taskbody:", "task-list:", "history:", "snapshot-page:")
# The local-memory default is one process's own: fine for one process serving with threads (the
# embedded default), refused with more (tasks.caching.checks, gunicorn.conf.py).
if not PORTAL_WORKER_URL:
    # The embedded queue: a file beside the SQLite database (so two portals with two databases
    # never share a queue), else named after the database in the project directory.
    _db = DATABASES["default"]
    if _db["ENGINE"] == "django.db.backends.sqlite3":
        _queue_file = Path(str(_db["NAME"])).with_suffix(".queue.sqlite3")
    else:
        _queue_file = BASE_DIR / f"queue-{_db.get('NAME') or 'default'}.sqlite3"
    PORTAL_WORKER_URL = f"sqlite:///{_queue_file}"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # One client per pool, one pipelined read, and an outage costs speed (portal/cache.py).
    CACHES["default"]["BACKEND"] = "portal.cache.RedisCache"
    # A Redis that stops answering fails a cache call fast, not after the OS's TCP timeouts.
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {
            "socket_connect_timeout": env.float("CACHE_CONNECT_TIMEOUT", default=0.5),
            "socket_timeout": env.float("CACHE_TIMEOUT", default=1.0),
        }
    )
    # While Redis is down, each process keeps these in its own memory (the same for every process
    # and checked on use: task documents, rendered bodies, task lists, history pages), so an outage
    # does not send every read to the upstream. Never epochs, sessions, locks or counters.
    CACHES["default"].setdefault("LOCAL_DURING_OUTAGE", CACHE_LOCAL_DURING_OUTAGE)
CACHES["default"].setdefault("KEY_PREFIX", env.str("CACHE_KEY_PREFIX", default="vasportal"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out user/IP before any password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Failed logins: 5 failures for one user from one address lock that pair for 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The language switch's choice is remembered for a year (Django's default is the browser session).
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded files (the tasks' reference stills: camera images of real people) live in a private
# directory that no URL serves: the portal streams them to project members only. Any
# django-storages backend (S3, OBS through its S3 API, …) can replace the default (README).
MEDIA_ROOT = env.path("PORTAL_MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Plain names (no manifest), so pages render before and without `collectstatic`; collectstatic
    # adds pre-compressed copies that WhiteNoise serves in production.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Without `collectstatic` (tests, `make run`), serve straight from the finders.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
WHITENOISE_AUTOREFRESH = DEBUG

# Security headers. Scripts and styles come from our own origin only: no inline code anywhere.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# Sessions are read from the cache and written through to the database, which answers when the
# cache does not.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if PORTAL_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Preloading is the domain owner's commitment (every sub-domain, in browsers' built-in lists,
    # slow to undo), so a deployer opts in; see SILENCED_SYSTEM_CHECKS below.
    SECURE_HSTS_PRELOAD = env.bool("PORTAL_HSTS_PRELOAD", default=False)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# security.W021 ("SECURE_HSTS_PRELOAD is not True") only reminds that preloading exists; that
# choice is PORTAL_HSTS_PRELOAD's. Silenced so that `check --deploy --fail-level WARNING` fails
# on real problems only.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # knox's hashed, expiring tokens, recording when each was last used.
        "tasks.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only, with a body size cap (413 beyond it).
    "DEFAULT_PARSER_CLASSES": ["tasks.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "tasks.api.pagination.PortalPagination",
    "DEFAULT_THROTTLE_CLASSES": ["tasks.api.throttling.ApiRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": PORTAL_API_RATE, "refresh": PORTAL_REFRESH_RATE},
    "EXCEPTION_HANDLER": "tasks.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Tokens are django-rest-knox's (stored as SHA-512 digests), in our model that adds "last used".
KNOX_TOKEN_MODEL = "tasks.ApiToken"  # noqa: S105 - a model name, not a secret
# knox's own migrations create its table even when the model is swapped out; a stray table that
# references auth_user makes TRUNCATE (test flushes on PostgreSQL) fail. Ours is in tasks.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=30),
    "AUTO_REFRESH": False,
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_MODEL": KNOX_TOKEN_MODEL,
    # Keys are 64 hex digits; the first 15 are stored in clear to find the digest (the "prefix").
    "TOKEN_LIMIT_PER_USER": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "VAS Task Portal API",
    "DESCRIPTION": "Projects, members and Huawei Cloud VAS tasks as the portal knows them.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set the serializers share (else drf-spectacular guesses): the
    # monitor's, and the task lists' `source` (the VAS and the VIAS list).
    "ENUM_NAME_OVERRIDES": {
        "ChannelKindEnum": "tasks.models.ChannelKind",
        "EventKindEnum": "tasks.models.EventKind",
        "SeverityEnum": "tasks.models.Severity",
        "TaskListSourceEnum": ["upstream", "cache"],
    },
    # The error table, made from the error catalogue (tasks.errors); VIAS routes without the
    # VAS `service` path parameter.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tasks.api.schema.add_error_table",
        "tasks.api.schema.drop_absent_path_parameters",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "null": {"class": "logging.NullHandler"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # Apprise's own log lines quote notification URLs, which are secrets: never let them out.
        # (tasks.services.notify captures them while sending, and keeps only an HTTP status.)
        "apprise": {"handlers": ["null"], "propagate": False},
    },
}
