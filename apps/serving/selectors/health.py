from typing import Any

from django.db import connection

from apps.serving.loader import champion_cache
from apps.training.selectors.mlflow_ui import mlflow_ui_status
from apps.training.selectors.registry_checks import registry_check_latest


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}: {str(exc)[:200]}"


def serving_health() -> dict[str, Any]:
    """Liveness, readiness, the model in memory, the last loading error, the database, MLflow UI."""
    database = _database_state()
    problem = ""
    if database == "ok":
        try:
            champion_cache.get()  # also notices a new champion, like a prediction would
        except Exception as exc:
            # Reported here only: a read must not leave state that changes later answers.
            problem = str(exc)
    loaded = champion_cache.loaded
    last_error = champion_cache.last_error or problem
    ready = loaded is not None and database == "ok"
    # The worker's last comparison of MLflow's champion alias with the database: one cache read.
    registry = registry_check_latest() if database == "ok" else None
    healthy = ready and not last_error and (registry is None or registry["agrees"])
    body: dict[str, Any] = {
        "status": "ok" if healthy else "degraded",
        "live": True,
        "ready": ready,
        "model_loaded": loaded is not None,
        "model_version": str(loaded.version) if loaded else None,
        "last_error": last_error,
        "database": database,
        "mlflow_ui": mlflow_ui_status(),  # informational: neither status nor readiness
    }
    if registry is not None:  # absent until the first check has run
        body["registry"] = registry
    return body
