"""Drift baselines, noise floors, reports and incidents in the Django admin, read-only."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.monitoring.models import (
    DriftBaseline,
    DriftIncident,
    DriftReport,
    NoiseFloor,
    ShadowReplay,
)


@admin.register(DriftReport)
class DriftReportAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "verdict",
        "rows",
        "model_version",
        "max_psi",
        "trigger",
        "retrain_run",
    )
    list_filter = ("verdict", "trigger", "model_version")
    search_fields = ("retrain_note", "error")
    date_hierarchy = "created_at"


@admin.register(DriftBaseline)
class DriftBaselineAdmin(ReadOnlyAdmin):
    list_display = ("model_version", "rows", "created_at")
    list_select_related = ("model_version",)


@admin.register(NoiseFloor)
class NoiseFloorAdmin(ReadOnlyAdmin):
    list_display = ("baseline", "window_rows", "created_at")
    list_select_related = ("baseline__model_version",)


@admin.register(ShadowReplay)
class ShadowReplayAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "candidate_version",
        "champion_version",
        "rows",
        "seconds",
        "promotion_request",
    )
    list_filter = ("candidate_version",)


@admin.register(DriftIncident)
class DriftIncidentAdmin(ReadOnlyAdmin):
    list_display = ("id", "status", "opened_at", "model_version", "verdict", "closed_at")
    list_filter = ("status", "verdict")
    search_fields = ("note", "acknowledged_by")
