"""Titanic Ops settings: the only module that reads the environment.

Every value has an embedded default that works on a laptop (SQLite, local MLflow store,
django-q2 ORM broker, Spark local[*]); production overrides them through the environment
(see .env.example and the README).
"""

import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "on"}
_FALSE = {"0", "false", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use one of true/false/1/0/on/off")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be >= {minimum}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None
    if value != value or (minimum is not None and value < minimum):
        raise ImproperlyConfigured(f"{name}={raw!r} must be a number >= {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


VAR_DIR = Path(env_str("TITANIC_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded stores live here

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off "
            "(make run sets DJANGO_DEBUG=true for the embedded platform)"
        )
    SECRET_KEY = "titanic-ops-insecure-development-key-only-for-debug"  # noqa: S105
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# --- transport security (TLS terminated by a reverse proxy in front of gunicorn) ---------------
# Opt-in: trusting X-Forwarded-Proto is only safe when a proxy always sets it.
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
# The container healthcheck calls /health over plain HTTP from inside the container.
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SECURE_HSTS_SECONDS = env_int(
    "DJANGO_SECURE_HSTS_SECONDS", 31536000 if SECURE_SSL_REDIRECT else 0, minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", SECURE_SSL_REDIRECT)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Preload binds the whole domain to HTTPS in browsers for good: only its owner can decide that,
# so leaving it off is a decision, not an oversight that check --deploy should keep reporting.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# The dashboard's own assets only. Styles allow inline: plotly.js injects its style rules at
# run time and the Swagger UI page carries an inline <style>; scripts never run inline.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "csp",
    "axes",
    "apps.training",
    "apps.serving",
    "apps.monitoring",
    "apps.alerts",
    "apps.dashboard",
]

MIDDLEWARE = [
    "apps.core.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lock-out raised during login into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "titanic_ops.urls"
WSGI_APPLICATION = "titanic_ops.wsgi.application"

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
                "apps.dashboard.context_processors.layout",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'titanic_ops.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL + a busy timeout let the web process and the worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not :memory:, so that tests can share the test database with real subprocesses.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_titanic_ops.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "dashboard:login"

# --- login abuse (django-axes): both login pages; API tokens never go through authenticate() ---
AUTHENTICATION_BACKENDS = [
    "apps.core.logins.LoginAbuseBackend",  # first: refuses a locked-out client before checking
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_float("LOGIN_COOLOFF_MINUTES", 15.0, minimum=0.1))
# A user from one client, and any client that tries many users; a username alone would let
# anyone lock the administrator out from everywhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_CLIENT_IP_CALLABLE = "apps.core.logins.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_SENSITIVE_PARAMETERS = ["password"]
LOGIN_REDIRECT_URL = "dashboard:overview"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"  # built with the code (collectstatic), not state

LOG_LEVEL = env_str("TITANIC_LOG_LEVEL", "INFO").upper()
# One console handler for web and worker alike: server errors (`django.request`), the apps and
# anything else that reaches the root logger, each line with the request id when there is one.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.core.request_id.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "apps": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django-q": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "py4j": {"level": "WARNING"},
    },
}

# Tests only: the name of a step (apps.core.crashpoints.CRASH_POINTS) at which the process
# exits at once, as if killed. Empty, the default, turns every point into a no-op.
CRASH_POINT = env_str("TITANIC_CRASH_POINT", "")

# --- API ------------------------------------------------------------------------------------
PREDICT_THROTTLE_RATE = env_str("PREDICT_THROTTLE_RATE", "20000/min")
# Rows, not requests: a 1,000-row batch spends 1,000 of this budget.
PREDICT_BATCH_ROWS_RATE = env_str("PREDICT_BATCH_ROWS_RATE", "20000/min")
for _name, _rate in (
    ("PREDICT_THROTTLE_RATE", PREDICT_THROTTLE_RATE),
    ("PREDICT_BATCH_ROWS_RATE", PREDICT_BATCH_ROWS_RATE),
):
    # Checked here, not at the first request: a typo would otherwise be a 500 on every call.
    if not re.fullmatch(r"0|[1-9][0-9]*/(s|sec|m|min|h|hour|d|day)", _rate.strip()):
        raise ImproperlyConfigured(f"{_name}={_rate!r} must be N/s, N/min, N/hour, N/day or 0")
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
PREDICT_MAX_BODY_BYTES = 8 * 1024
PREDICT_BATCH_MAX_BODY_BYTES = 512 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
SERVING_VERSION_CHECK_SECONDS = env_float("SERVING_VERSION_CHECK_SECONDS", 1.0, minimum=0.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.api.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.serving.api.api_exception_handler",
    # Counted per client address; with N trusted proxies the N-th address from the right of
    # X-Forwarded-For is the client, so a forged header cannot create fresh identities.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_THROTTLE_RATES": {
        "predict": None if PREDICT_THROTTLE_RATE.strip() == "0" else PREDICT_THROTTLE_RATE,
        "predict_batch_rows": (
            None if PREDICT_BATCH_ROWS_RATE.strip() == "0" else PREDICT_BATCH_ROWS_RATE
        ),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Titanic Ops API",
    "DESCRIPTION": "Score passengers with the champion model; every answer is logged first.",
    "VERSION": "1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.serving.schema.forbid_additional_properties",
        "apps.serving.schema.document_common_errors",
    ],
}
# A cache shared by every process: a table in the main database.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "titanic_ops_cache",
    }
}

# --- data (DVC) ---------------------------------------------------------------------------
DVC_ROOT = Path(env_str("TITANIC_DVC_ROOT", str(BASE_DIR))).resolve()
DATA_DIR = DVC_ROOT / "data"
DVC_REMOTE_URL = env_str("DVC_REMOTE_URL", str(VAR_DIR / "dvc-remote"))
DVC_S3_ENDPOINT_URL = env_str("DVC_S3_ENDPOINT_URL", "")
DATASET_CACHE_DIR = VAR_DIR / "cache"

# --- MLflow ---------------------------------------------------------------------------------
MLFLOW_TRACKING_URI = env_str("MLFLOW_TRACKING_URI", f"sqlite:///{VAR_DIR / 'mlflow.db'}")
MLFLOW_ARTIFACT_ROOT = env_str("MLFLOW_ARTIFACT_ROOT", (VAR_DIR / "mlartifacts").as_uri())
MLFLOW_EXPERIMENT = env_str("MLFLOW_EXPERIMENT", "titanic-spark")
MLFLOW_MODEL_NAME = env_str("MLFLOW_MODEL_NAME", "titanic_spark_model")
# make run's own MLflow UI (a third supervised process) over the embedded store; empty: not started.
MLFLOW_UI_BIND = env_str("MLFLOW_UI_BIND", "127.0.0.1:5500").strip()
_UI_HOST, _, _UI_PORT = (MLFLOW_UI_BIND or "127.0.0.1:5500").rpartition(":")
if not re.fullmatch(r"[\w.\-]+", _UI_HOST) or not _UI_PORT.isdigit() or int(_UI_PORT) > 65535:
    raise ImproperlyConfigured(f"MLFLOW_UI_BIND={MLFLOW_UI_BIND!r} must be HOST:PORT or empty")
_UI_ANY = _UI_HOST == "0.0.0.0"  # noqa: S104 (a bind-all address, not a bind)
# Where the dashboard's links point (the browser's address for the UI) ...
_UI_LINK_HOST = "127.0.0.1" if _UI_ANY else _UI_HOST
MLFLOW_UI_URL = env_str("MLFLOW_UI_URL", "") or f"http://{_UI_LINK_HOST}:{_UI_PORT}"
# ... and where the web process asks whether it answers, when not there (compose: the service).
MLFLOW_UI_PROBE_URL = env_str("MLFLOW_UI_PROBE_URL", "")
# MLflow reads its own knobs from the environment; set quiet defaults here, once.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# Bounded registry calls: /reload must answer within seconds when the server is unreachable.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", env_str("MLFLOW_HTTP_TIMEOUT", "3"))
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
# The UI process runs no GenAI jobs: no job runner beside it (one process and its memory saved).
os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")

# --- Spark ----------------------------------------------------------------------------------
SPARK_MASTER = env_str("SPARK_MASTER", "local[*]")
SPARK_DRIVER_MEMORY = env_str("SPARK_DRIVER_MEMORY", "2g")
# An idle worker stops its SparkSession and JVM (~1 GB) this long after its last job; 0 keeps it.
SPARK_IDLE_RELEASE_SECONDS = env_int("SPARK_IDLE_RELEASE_SECONDS", 600, minimum=0)
TRAINING_PROFILE = env_choice("TRAINING_PROFILE", "quick", ("quick", "full"))
TRAINING_TIMEOUT_SECONDS = env_int("TRAINING_TIMEOUT_SECONDS", 1800, minimum=60)
# A running job beats every quarter of this; the reaper fails a job silent for longer.
TRAINING_HEARTBEAT_TIMEOUT_SECONDS = env_int("TRAINING_HEARTBEAT_TIMEOUT_SECONDS", 120, minimum=4)

# --- promotion ------------------------------------------------------------------------------
AUTO_PROMOTE_TITANIC = env_bool("AUTO_PROMOTE_TITANIC", True)
PROMOTION_MIN_AUC = env_float("PROMOTION_MIN_AUC", 0.75, minimum=0.0)
PROMOTION_MIN_AUC_DELTA = env_float("PROMOTION_MIN_AUC_DELTA", 0.005)
PROMOTION_MAX_CLASS_DROP = env_float("PROMOTION_MAX_CLASS_DROP", 0.02, minimum=0.0)
# The frozen reference holdout: no candidate may lose more AUC than this on it vs the champion.
PROMOTION_MAX_HOLDOUT_AUC_DROP = env_float("PROMOTION_MAX_HOLDOUT_AUC_DROP", 0.02, minimum=0.0)
# Label-driven candidates (trained on labelled inference rows) promote themselves only inside
# these bounds; outside them they wait for a person even with AUTO_PROMOTE_TITANIC.
LABEL_GUARD_MAX_BALANCE_SHIFT = env_float("LABEL_GUARD_MAX_BALANCE_SHIFT", 0.15, minimum=0.0)
LABEL_GUARD_MAX_HOLDOUT_AUC_DROP = env_float("LABEL_GUARD_MAX_HOLDOUT_AUC_DROP", 0.01, minimum=0.0)
LABEL_GUARD_MAX_HOLDOUT_FLIP_RATE = env_float(
    "LABEL_GUARD_MAX_HOLDOUT_FLIP_RATE", 0.15, minimum=0.0
)

# --- monitoring -----------------------------------------------------------------------------
PSI_THRESHOLD = env_float("PSI_THRESHOLD", 0.2, minimum=0.0)
PSI_CRITICAL = env_float("PSI_CRITICAL", 0.3, minimum=0.0)
MIN_INFER_ROWS = env_int("MIN_INFER_ROWS", 50, minimum=1)

# --- task queue (django-q2, ORM broker) -----------------------------------------------------
Q_CLUSTER = {
    "name": "titanic-ops",
    "orm": "default",
    "workers": env_int("Q_WORKERS", 1, minimum=1),
    "timeout": TRAINING_TIMEOUT_SECONDS,
    "retry": TRAINING_TIMEOUT_SECONDS + 300,
    "max_attempts": 1,
    "catch_up": False,
    "ack_failures": True,
    "poll": 1,
    "save_limit": 500,
    "label": "Task queue",
}

# --- the embedded platform (make run) --------------------------------------------------------
WEB_BIND = env_str("WEB_BIND", "127.0.0.1:9090")
WEB_WORKERS = env_int("WEB_WORKERS", 2, minimum=1)
TITANIC_ADMIN_USERNAME = env_str("TITANIC_ADMIN_USERNAME", "admin")
TITANIC_ADMIN_PASSWORD = env_str("TITANIC_ADMIN_PASSWORD", "")

# --- training internals ------------------------------------------------------------------------
TRAINING_PARAMS_FILE = BASE_DIR / "params.yaml"
TRAINING_PARALLELISM = env_int("TRAINING_PARALLELISM", 2, minimum=1)
# Evaluation rows the training driver may hold (curves, class metrics, the gate); beyond it a
# seeded uniform sample of this many rows, while the AUC is computed by Spark over every row.
EVALUATION_MAX_ROWS = env_int("EVALUATION_MAX_ROWS", 50_000, minimum=1000)
MODEL_CACHE_DIR = VAR_DIR / "models"

# --- drift monitoring and the retraining loop ----------------------------------------------------
DRIFT_WINDOW_HOURS = env_float("DRIFT_WINDOW_HOURS", 24.0, minimum=0.01)
DRIFT_CHECK_MINUTES = env_int("DRIFT_CHECK_MINUTES", 15, minimum=1)
# How often the worker compares MLflow's champion alias with the database (the source of truth).
REGISTRY_CHECK_MINUTES = env_int("REGISTRY_CHECK_MINUTES", 1, minimum=1)
# Inference rows older than this many days go to Parquet under var/archive/inference/ and leave
# the table, in batches of INFERENCE_ARCHIVE_BATCH_ROWS rows, by a daily django-q2 schedule.
INFERENCE_LOG_RETENTION_DAYS = env_int("INFERENCE_LOG_RETENTION_DAYS", 30, minimum=1)
INFERENCE_ARCHIVE_BATCH_ROWS = env_int("INFERENCE_ARCHIVE_BATCH_ROWS", 10_000, minimum=100)
DRIFT_RETRAIN_ON = env_choice("DRIFT_RETRAIN_ON", "critical", ("critical", "warning", "off"))
# An estimated accuracy or AUC this far below the evaluation-time figure is a drift signal.
PERFORMANCE_DROP_TOLERANCE = env_float("PERFORMANCE_DROP_TOLERANCE", 0.05, minimum=0.0)
# Which verdict opens a drift incident (kept open until a new champion checks clean or a person
# acknowledges it).
DRIFT_INCIDENT_ON = env_choice("DRIFT_INCIDENT_ON", "critical", ("critical", "warning"))
RETRAIN_COOLDOWN_MINUTES = env_int("RETRAIN_COOLDOWN_MINUTES", 60, minimum=0)
DRIFT_BASELINE_FILENAME = "drift_baseline_titanic.json"

# --- foresight: shadow replay of a candidate, alerts ---------------------------------------------
SHADOW_REPLAY_ROWS = env_int("SHADOW_REPLAY_ROWS", 5000, minimum=1)
ALERT_WEBHOOK_TIMEOUT_SECONDS = env_float("ALERT_WEBHOOK_TIMEOUT_SECONDS", 5.0, minimum=0.1)
ALERT_WEBHOOK_MAX_ATTEMPTS = env_int("ALERT_WEBHOOK_MAX_ATTEMPTS", 6, minimum=1)
# Attempt n waits BACKOFF * 2**(n-1) after attempt n-1 failed: 30 s, 1, 2, 4, 8 min by default.
ALERT_WEBHOOK_BACKOFF_SECONDS = env_float("ALERT_WEBHOOK_BACKOFF_SECONDS", 30.0, minimum=0.0)
ALERT_BASE_URL = env_str("ALERT_BASE_URL", "http://127.0.0.1:9090")
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "titanic-ops@localhost")

# --- secrets: with DEBUG off, refuse the example's placeholders and short values ---------------
PLACEHOLDER_MARK = "change-me"  # every secret in .env.example carries it


def refuse_weak_secret(name: str, value: str, *, minimum: int) -> None:
    """Fail start-up naming `name` when its value is a placeholder or too short (never shown)."""
    if value and (PLACEHOLDER_MARK in value.lower() or len(value) < minimum):
        raise ImproperlyConfigured(
            f"{name} is a placeholder or shorter than {minimum} characters: set a random "
            "secret (e.g. `openssl rand -hex 32`) before running with DJANGO_DEBUG off"
        )


if not DEBUG:
    refuse_weak_secret("DJANGO_SECRET_KEY", SECRET_KEY, minimum=40)
    refuse_weak_secret(
        "DATABASE_URL (its password)",
        unquote(DATABASES["default"].get("PASSWORD") or ""),
        minimum=12,
    )
    refuse_weak_secret("TITANIC_ADMIN_PASSWORD", TITANIC_ADMIN_PASSWORD, minimum=12)
    # Read by DVC's and MLflow's S3 clients, checked here so a placeholder fails at start-up.
    refuse_weak_secret("AWS_ACCESS_KEY_ID", os.environ.get("AWS_ACCESS_KEY_ID", ""), minimum=3)
    refuse_weak_secret(
        "AWS_SECRET_ACCESS_KEY", os.environ.get("AWS_SECRET_ACCESS_KEY", ""), minimum=12
    )
