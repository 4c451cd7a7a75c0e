"""Django settings for Machi.

Every setting comes from an environment variable (``MACHI_*``) with an embedded default that
runs on one laptop: SQLite (WAL) in ``var/``, no broker, local file storage. Production sets the
variables listed in ``.env.example`` and ``docs/deploy.md``, with ``MACHI_PRODUCTION=1``.
Importing this module writes no files: ``var/`` is created (owner-only) by the entry points
through ``machi.var_dir.prepare_var_dir``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from machi.var_dir import development_secret_key, var_dir_path

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
VAR_DIR = var_dir_path()


def env_str(name: str, default: str = "") -> str:
    """Read ``name`` from the environment, or from the file named by ``name_FILE`` (secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean flag: 1/true/yes/on are true."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated list."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("MACHI_DEBUG", False)
# Development is the default: production settings apply only with MACHI_PRODUCTION=1 (secure
# cookies, HTTPS redirect and HSTS, a required MACHI_SECRET_KEY, no sandbox payments, no test
# trust anchors, no demo data). A deployment that forgets the flag runs with development settings.
PRODUCTION = env_bool("MACHI_PRODUCTION", False)

SECRET_KEY = env_str("MACHI_SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("MACHI_SECRET_KEY must be set in production.")
    # A per-machine key in var/secret_key (written by the entry points, 0600) so sessions
    # survive restarts of the demo; read only here.
    SECRET_KEY = development_secret_key(VAR_DIR)

ALLOWED_HOSTS = env_list("MACHI_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("MACHI_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "mozilla_django_oidc",
    # Background tasks (machi.core.tasks): the Tasks API, its database store and RQ on Redis.
    "django_tasks",
    "django_tasks_db",
    "django_rq",
    "machi.core",
    "machi.files",
    "machi.identity",
    "machi.procedures",
    "machi.cases",
    "machi.documents",
    "machi.payments",
    "machi.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "machi.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's AuthenticationMiddleware and django-otp's OTPMiddleware, from a cache.
    "machi.core.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns lockouts raised below into its response.
    "axes.middleware.AxesMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
]

ROOT_URLCONF = "machi.urls"
WSGI_APPLICATION = "machi.wsgi.application"
AUTH_USER_MODEL = "core.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "machi.web.context_processors.platform",
            ],
        },
    }
]

# --- Database ------------------------------------------------------------------------------
# Embedded default: SQLite in var/, switched to WAL mode on connect (see core.apps).
DATABASE_URL = env_str("MACHI_DATABASE_URL") or f"sqlite:///{VAR_DIR / 'machi.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
TEST_DATABASE_URL = env_str("MACHI_TEST_DATABASE_URL")
if TEST_DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(TEST_DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, lockouts) and sessions ----------------------------------------------
# "auth" holds sessions and the sign-in state's invalidation tokens (machi.core.auth_cache): it
# must be one cache for every process. Redis when set; else a directory under var/ that all
# processes of one machine share (an installation on several machines sets MACHI_REDIS_URL).
REDIS_URL = env_str("MACHI_REDIS_URL")
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        },
        "auth": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "machi-auth",
        },
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "auth": {
            "BACKEND": "machi.core.file_cache.SharedFileCache",
            "LOCATION": str(VAR_DIR / "cache" / "auth"),
            "OPTIONS": {"MAX_ENTRIES": 50_000},
        },
    }
# Sessions are read from the cache (no database round trip) and written through to the
# database, so a flushed or restarted cache signs nobody out. Server-side, unlike signed
# cookies: signing out ends the session for good, and what the session holds (correction drafts,
# resume tokens) never leaves the server.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_CACHE_ALIAS = "auth"
# How long one process trusts its cached copy of a user, OTP device and roles when no write
# through the ORM told it otherwise (machi.core.auth_cache).
MACHI_AUTH_CACHE_SECONDS = int(os.environ.get("MACHI_AUTH_CACHE_SECONDS", "300"))

# --- Background tasks (machi.core.tasks; docs/decisions/0007-task-engine.md) ----------------
# One API, Django's Tasks (django-tasks backport). "database": tasks are rows of this database,
# written in the transaction that enqueues them, run by `python -m machi tasks-worker` (no
# broker: the embedded default). "redis": RQ on MACHI_TASKS_REDIS_URL (default MACHI_REDIS_URL),
# workers on any number of machines. Either way the outbox row stays the record of what is owed.
MACHI_TASKS_BACKEND = env_str("MACHI_TASKS_BACKEND", "database").strip().lower()
MACHI_TASKS_QUEUE = env_str("MACHI_TASKS_QUEUE", "machi")  # installations sharing a Redis differ
MACHI_TASKS_REDIS_URL = env_str("MACHI_TASKS_REDIS_URL") or REDIS_URL
if MACHI_TASKS_BACKEND == "database":
    TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": [MACHI_TASKS_QUEUE]}
    }
elif MACHI_TASKS_BACKEND == "redis":
    if not MACHI_TASKS_REDIS_URL:
        raise ImproperlyConfigured("MACHI_TASKS_BACKEND=redis needs MACHI_TASKS_REDIS_URL.")
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [MACHI_TASKS_QUEUE]}}
else:
    raise ImproperlyConfigured("MACHI_TASKS_BACKEND must be 'database' or 'redis'.")
# django-rq reads its queues from here (only used with the redis backend).
RQ_QUEUES = {
    MACHI_TASKS_QUEUE: {
        "URL": MACHI_TASKS_REDIS_URL or "redis://127.0.0.1:6379/0",
        "DEFAULT_TIMEOUT": 300,
    }
}
# A pending outbox message not delivered this long after its task was sent (a worker was
# killed, the broker lost it) is sent again by the sweep every worker runs.
MACHI_OUTBOX_REDELIVER_SECONDS = int(env_str("MACHI_OUTBOX_REDELIVER_SECONDS", "300"))
MACHI_OUTBOX_SWEEP_SECONDS = float(env_str("MACHI_OUTBOX_SWEEP_SECONDS", "30"))
# Tests only: the real Redis the task tests also run against (`.ci/run` sets it); unset, they skip.
TEST_REDIS_URL = env_str("MACHI_TEST_REDIS_URL")

# --- E-mail (notifications go through the outbox; see core.outbox) ---------------------------
# Embedded default: messages are written as files to var/mail/ so the demo needs no mail server.
EMAIL_BACKEND = os.environ.get(
    "MACHI_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = os.environ.get("MACHI_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("MACHI_EMAIL_PORT", "25"))
EMAIL_HOST_USER = env_str("MACHI_EMAIL_USER")
EMAIL_HOST_PASSWORD = env_str("MACHI_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("MACHI_EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("MACHI_FROM_EMAIL", "no-reply@machi.example")

# --- Authentication --------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses locked-out credentials before any other backend runs.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:staff-login"
LOGIN_REDIRECT_URL = "web:staff-home"

# Lock an account at one address after repeated failures (not the whole address: many staff
# sit behind one municipal NAT). Per-address volume is capped separately by rate limiting, and
# failures per account from all addresses by MACHI_LOGIN_ACCOUNT_FAILURE_LIMIT
# (machi.core.sign_in_limits), so spreading guesses over many addresses does not help.
AXES_FAILURE_LIMIT = int(os.environ.get("MACHI_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("MACHI_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "machi.web.views.staff_locked_out"
AXES_VERBOSE = False
# Reverse proxies in front of Machi. One function finds the client's address for the rate limits
# (django-ratelimit), the lockouts (django-axes) and the audit log alike.
MACHI_PROXY_COUNT = int(os.environ.get("MACHI_PROXY_COUNT", "0"))
AXES_CLIENT_IP_CALLABLE = "machi.core.client_address.client_ip"
RATELIMIT_IP_META_KEY = "machi.core.client_address.client_ip"
# django-ninja's throttles (read once at start-up): without it they trust a client's whole
# X-Forwarded-For header, so anyone could pose as a new address per request.
NINJA_NUM_PROXIES = MACHI_PROXY_COUNT
LOGIN_RATE_LIMIT = os.environ.get("MACHI_LOGIN_RATE_LIMIT", "30/m")
# Lifetime of API tokens for kiosks and LINE mini-apps (POST /api/v1/tokens; machi.core.auth).
MACHI_API_TOKEN_SECONDS = int(os.environ.get("MACHI_API_TOKEN_SECONDS", str(30 * 24 * 3600)))
LOGIN_ACCOUNT_FAILURE_LIMIT = int(os.environ.get("MACHI_LOGIN_ACCOUNT_FAILURE_LIMIT", "20"))
RATELIMIT_VIEW = "machi.web.views.rate_limited"

OTP_TOTP_ISSUER = "Machi"
# django-otp's own throttle (1, 2, 4… seconds after each wrong code) refused a right code typed
# just after a wrong one, and saying so would reveal that the password was right. Guessing is
# capped by the lockouts above instead (per account and address, and per account).
OTP_TOTP_THROTTLE_FACTOR = 0

# OpenID Connect sign-in for municipalities with their own identity provider: off unless set.
OIDC_ENABLED = env_bool("MACHI_OIDC_ENABLED", False)
OIDC_RP_CLIENT_ID = env_str("MACHI_OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env_str("MACHI_OIDC_CLIENT_SECRET")
OIDC_RP_SIGN_ALGO = os.environ.get("MACHI_OIDC_SIGN_ALGO", "RS256")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("MACHI_OIDC_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env_str("MACHI_OIDC_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env_str("MACHI_OIDC_USER_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env_str("MACHI_OIDC_JWKS_ENDPOINT")
OIDC_CREATE_USER = False  # only staff already known to Machi may sign in
if OIDC_ENABLED:
    if not (OIDC_RP_CLIENT_ID and OIDC_OP_AUTHORIZATION_ENDPOINT and OIDC_OP_TOKEN_ENDPOINT):
        raise ImproperlyConfigured(
            "MACHI_OIDC_ENABLED needs MACHI_OIDC_CLIENT_ID and the provider's endpoints."
        )
    AUTHENTICATION_BACKENDS.append("machi.core.oidc.StaffOIDCBackend")

# --- Internationalisation ------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [
    ("ja", "日本語"),
    ("en", "English"),
    ("ja-easy", "やさしい にほんご"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True
LANGUAGE_COOKIE_SECURE = PRODUCTION
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- Static and uploaded files -------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("MACHI_STATIC_ROOT", VAR_DIR / "static"))
# Outside production, serve straight from the apps' static folders (no collectstatic needed).
WHITENOISE_USE_FINDERS = not PRODUCTION
MEDIA_ROOT = Path(os.environ.get("MACHI_MEDIA_ROOT", VAR_DIR / "files"))
# Attachments (machi.files): sanitised bytes, served only through files.services.file_response.
# Never map this directory (or MEDIA_ROOT above it) to a URL; it must lie outside STATIC_ROOT.
MACHI_PRIVATE_FILES_ROOT = Path(env_str("MACHI_PRIVATE_FILES_ROOT") or MEDIA_ROOT / "private")
# Uploads through any storage are for the owner only (personal data).
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Issued documents (machi.documents): the signed PDFs, read back only through
# documents.services.document_read (checksum checked), never by URL. Embedded default: a private
# folder (files 0600, folders 0700); MACHI_DOCUMENTS_STORAGE=s3: an S3-compatible bucket through
# django-storages, credentials from the environment (empty: boto3's own chain, e.g. an IAM role).
MACHI_DOCUMENTS_STORAGE = env_str("MACHI_DOCUMENTS_STORAGE", "filesystem").strip().lower()
MACHI_DOCUMENTS_ROOT = Path(env_str("MACHI_DOCUMENTS_ROOT") or MEDIA_ROOT / "documents")
if MACHI_DOCUMENTS_STORAGE == "s3":
    STORAGES["documents"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("MACHI_DOCUMENTS_S3_BUCKET"),
            "location": env_str("MACHI_DOCUMENTS_S3_PREFIX").strip("/"),
            "endpoint_url": env_str("MACHI_DOCUMENTS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("MACHI_DOCUMENTS_S3_REGION") or None,
            "access_key": env_str("MACHI_DOCUMENTS_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("MACHI_DOCUMENTS_S3_SECRET_ACCESS_KEY") or None,
            "addressing_style": env_str("MACHI_DOCUMENTS_S3_ADDRESSING_STYLE") or None,
            "default_acl": None,  # the bucket's policy: private, never public-read
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
    if not STORAGES["documents"]["OPTIONS"]["bucket_name"]:
        raise ImproperlyConfigured(
            "MACHI_DOCUMENTS_S3_BUCKET must be set with MACHI_DOCUMENTS_STORAGE=s3."
        )
elif MACHI_DOCUMENTS_STORAGE == "filesystem":
    STORAGES["documents"] = {
        "BACKEND": "machi.files.storage.PrivateStorage",
        "OPTIONS": {
            "location": MACHI_DOCUMENTS_ROOT,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
else:
    raise ImproperlyConfigured("MACHI_DOCUMENTS_STORAGE must be 'filesystem' or 's3'.")

# --- Security --------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(os.environ.get("MACHI_SESSION_SECONDS", str(8 * 3600)))
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("MACHI_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Nothing loads from outside Machi (LGWAN): every directive is 'self' only, no inline script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Logging: one JSON object per line ---------------------------------------------------------
LOG_LEVEL = os.environ.get("MACHI_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "machi.core.middleware.RequestIdLogFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "pikepdf": {"level": "WARNING"},
        # Two lines per task (started, finished) at INFO: failures are still logged.
        "django_tasks": {"level": "WARNING"},
        "django_tasks_db": {"level": "WARNING"},
        "rq.worker": {"level": "WARNING"},
    },
}

# --- Machi -------------------------------------------------------------------------------------
# The prefecture that runs this installation (共同利用の主体), by 全国地方公共団体コード.
MACHI_PREFECTURE_CODE = os.environ.get("MACHI_PREFECTURE_CODE", "280003")
# Audit chains per municipality (by worker process), so writers never queue on one chain head.
MACHI_AUDIT_CHAIN_SHARDS = int(os.environ.get("MACHI_AUDIT_CHAIN_SHARDS", "8"))
# Key of the audit log's HMAC chain: configuration, never in the database, so whoever can write
# the database still cannot recompute the chain. Comma-separated: the first key links new
# entries, older ones (kept after a rotation) still verify what they linked. Required in
# production; elsewhere derived from SECRET_KEY (demo and tests).
MACHI_AUDIT_KEY = env_str("MACHI_AUDIT_KEY")
if not MACHI_AUDIT_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("MACHI_AUDIT_KEY must be set in production.")
    MACHI_AUDIT_KEY = hmac.new(
        SECRET_KEY.encode("utf-8"), b"machi.core.audit-chain", hashlib.sha256
    ).hexdigest()
MACHI_SITE_NAME = _("Machi スマート自治体プラットフォーム")

# --- Identity (My Number card style) -----------------------------------------------------------
# JPKI-style card signatures and card sign-in (machi.identity). `python -m machi card init`
# creates a TEST certificate authority in MACHI_CARD_CA_DIR (private keys 0600).
MACHI_CARD_CA_DIR = Path(os.environ.get("MACHI_CARD_CA_DIR", VAR_DIR / "card-ca"))
# Comma-separated CA certificate files (PEM or DER) trusted to issue cards. Production points
# this at J-LIS's CA certificates (jpki.go.jp/ca: every live 署名用/利用者証明用 CA generation,
# checked against the published SHA-256 fingerprints). Empty: the test CA certificates in
# MACHI_CARD_CA_DIR when present, outside production only; with MACHI_PRODUCTION nothing is
# trusted until this is set. Resolved when used, so tests may move MACHI_CARD_CA_DIR.
MACHI_CARD_TRUST_ANCHORS = env_list("MACHI_CARD_TRUST_ANCHORS")
# Comma-separated CRL files or http(s) URLs (PEM or DER). Production: the J-LIS revocation
# information Machi receives as a registered 署名検証者. Empty: the test CA's CRLs (not in
# production). A missing or expired CRL makes verification fail closed (revocation_unknown).
MACHI_CARD_CRL_SOURCES = env_list("MACHI_CARD_CRL_SOURCES")
# Revocation checkers (dotted class paths), consulted by priority; an OCSP plugin goes here.
MACHI_CARD_REVOCATION_CHECKERS = env_list(
    "MACHI_CARD_REVOCATION_CHECKERS", "machi.identity.revocation.CrlRevocationChecker"
)
# How long a resident's e-mail verification link stays valid.
MACHI_EMAIL_VERIFICATION_SECONDS = int(
    os.environ.get("MACHI_EMAIL_VERIFICATION_SECONDS", str(3 * 24 * 3600))
)
# Online applications: days an anonymous draft's resume link stays valid after its last save;
# the largest JSON body the application API accepts; anonymous starts/submissions per address.
MACHI_RESUME_LINK_DAYS = int(os.environ.get("MACHI_RESUME_LINK_DAYS", "30"))
MACHI_APPLICATION_MAX_BODY_BYTES = int(
    os.environ.get("MACHI_APPLICATION_MAX_BODY_BYTES", str(256 * 1024))
)
MACHI_APPLICATION_RATE_LIMIT = os.environ.get("MACHI_APPLICATION_RATE_LIMIT", "20/m")
# Passkeys (WebAuthn). The relying party ID must be a host name: browsers refuse IP addresses,
# so open the demo at http://localhost:8000/ (not 127.0.0.1) to use passkeys. Empty: the host
# of each request (one of MACHI_ALLOWED_HOSTS) and that request's origin. Production sets both,
# e.g. machi.pref.hyogo.example and https://machi.pref.hyogo.example. Read when used.
MACHI_WEBAUTHN_RP_ID = env_str("MACHI_WEBAUTHN_RP_ID")
MACHI_WEBAUTHN_RP_NAME = env_str("MACHI_WEBAUTHN_RP_NAME", "Machi")
MACHI_WEBAUTHN_ORIGINS = env_list("MACHI_WEBAUTHN_ORIGINS")

# The one public address of this installation (scheme, host, port; no trailing path), used
# wherever a full URL is built: the verification URL and QR code on each document, links in
# mails, payment return addresses. `make demo` sets it from HOST/PORT.
MACHI_PUBLIC_BASE_URL = env_str("MACHI_PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")

# --- Documents (PAdES) -------------------------------------------------------------------------
# Results issued as PDFs signed with the municipality's organisation certificate (PAdES B-LT) and
# time-stamped (RFC 3161). `python -m machi documents_pki init` creates a TEST organisation CA,
# per-municipality signing certificates and a TEST time-stamping authority here (private keys
# 0600); outside production they are also created on first use. Read when used, not at import.
MACHI_DOCUMENTS_PKI_DIR = Path(os.environ.get("MACHI_DOCUMENTS_PKI_DIR", VAR_DIR / "documents-pki"))
# Empty: Machi's built-in TSA (in-process, also served at /tsa/). Else the http(s) URL of an
# RFC 3161 time-stamping authority.
MACHI_TSA_URL = env_str("MACHI_TSA_URL")
MACHI_TSA_TIMEOUT_SECONDS = float(os.environ.get("MACHI_TSA_TIMEOUT_SECONDS", "10"))
# Comma-separated CA certificate files (PEM or DER) trusted when verifying documents: the
# organisation CA and the TSA's root. Empty: the test roots in MACHI_DOCUMENTS_PKI_DIR, outside
# production only; with MACHI_PRODUCTION nothing is trusted until this is set.
MACHI_DOCUMENTS_TRUST_ROOTS = env_list("MACHI_DOCUMENTS_TRUST_ROOTS")
MACHI_DOCUMENTS_VERIFY_MAX_BYTES = int(
    os.environ.get("MACHI_DOCUMENTS_VERIFY_MAX_BYTES", str(20 * 1024 * 1024))
)
MACHI_DOCUMENTS_VERIFY_RATE_LIMIT = os.environ.get("MACHI_DOCUMENTS_VERIFY_RATE_LIMIT", "20/m")
MACHI_TSA_RATE_LIMIT = os.environ.get("MACHI_TSA_RATE_LIMIT", "600/m")
# Optional TrueType/OpenType font file for documents (default: the bundled Noto Serif JP).
MACHI_DOCUMENTS_FONT = env_str("MACHI_DOCUMENTS_FONT")

# --- Payments ----------------------------------------------------------------------------------
# Cashless fees (machi.payments). Read when used, so tests and deployments may change them.
# Provider for new payments: "sandbox" (built in, moves no money) or "payjp".
MACHI_PAYMENT_PROVIDER = os.environ.get("MACHI_PAYMENT_PROVIDER", "sandbox")
# HMAC-SHA256 secret of the sandbox's webhooks; empty: derived from SECRET_KEY (demo).
MACHI_PAYMENT_SANDBOX_SECRET = env_str("MACHI_PAYMENT_SANDBOX_SECRET")
# The sandbox lets anyone "pay" without money: off in production unless switched on.
MACHI_PAYMENT_SANDBOX_ENABLED = env_bool("MACHI_PAYMENT_SANDBOX_ENABLED", not PRODUCTION)
# PAY.JP (https://pay.jp): secret and public API keys, and the token PAY.JP sends in the
# X-Payjp-Webhook-Token header of its webhooks (its dashboard shows it).
MACHI_PAYJP_SECRET_KEY = env_str("MACHI_PAYJP_SECRET_KEY")
MACHI_PAYJP_PUBLIC_KEY = env_str("MACHI_PAYJP_PUBLIC_KEY")
MACHI_PAYJP_WEBHOOK_TOKEN = env_str("MACHI_PAYJP_WEBHOOK_TOKEN")
