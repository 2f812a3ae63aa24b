"""What every dashboard page shares: the login rule and the layout's context."""

import importlib.metadata
import importlib.util
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from apps.training.models import PromotionRequest

# The dashboard's own login page; settings.LOGIN_URL still points at the admin's.
LOGIN_URL = "dashboard:login"
APPROVE_PERMISSION = "training.approve_modelversion"
RETRAIN_PERMISSION = "training.add_trainingrun"

View = Callable[..., HttpResponse]


def dashboard_view(view: View) -> View:
    """Login required: anonymous visitors go to the dashboard's login page."""
    return login_required(view, login_url=LOGIN_URL)


@cache
def plotly_js_path() -> Path:
    """plotly.min.js as shipped inside the installed `plotly` package (found, not imported)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise Http404("the plotly package is not installed")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


@cache
def plotly_version() -> str:
    return importlib.metadata.version("plotly")


def page_render(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    """Render a page inside the shared layout (navigation, MLflow link, pending badge)."""
    shared = {
        "mlflow_ui_url": settings.MLFLOW_UI_URL.rstrip("/"),
        "model_name": settings.MLFLOW_MODEL_NAME,
        "plotly_version": plotly_version(),
        "nav_pending": PromotionRequest.objects.filter(
            status=PromotionRequest.Status.PENDING
        ).count(),
    }
    return render(request, template, {**shared, **context}, status=status)
