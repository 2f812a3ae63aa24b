"""The layout's shared context: navigation badge, MLflow link, model name, plotly version."""

import importlib.metadata
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from apps.training.selectors.model_versions import promotion_pending_count
from apps.training.selectors.registry_checks import registry_check_latest


@cache
def plotly_version() -> str:
    return importlib.metadata.version("plotly")


def layout(request: HttpRequest) -> dict[str, Any]:
    """Context every page's layout reads; the pending count is queried only if a page shows it."""
    return {
        "mlflow_ui_url": settings.MLFLOW_UI_URL.rstrip("/"),
        "model_name": settings.MLFLOW_MODEL_NAME,
        "plotly_version": plotly_version(),
        "nav_pending": SimpleLazyObject(promotion_pending_count),
        "registry_check": SimpleLazyObject(lambda: registry_check_latest() or {}),
    }
