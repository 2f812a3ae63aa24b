"""Raw records in the Django admin, read-only: changes go through the services (dashboard, CLI)."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.training.models import (
    DataVersion,
    ModelVersion,
    PromotionEvent,
    PromotionRequest,
    TrainingRun,
)


@admin.register(DataVersion)
class DataVersionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "md5",
        "rows",
        "positives",
        "source",
        "parent",
        "is_current",
        "created_at",
    )
    list_filter = ("is_current",)
    search_fields = ("md5", "source")
    readonly_fields = [field.name for field in DataVersion._meta.fields]


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "status",
        "profile",
        "trigger",
        "data_version",
        "best_family",
        "best_eval_auc",
        "progress_done",
        "progress_total",
        "requested_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "profile", "trigger", "best_family")
    list_select_related = ("data_version", "requested_by")
    search_fields = ("id", "mlflow_parent_run_id", "error")
    date_hierarchy = "created_at"


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = (
        "version",
        "name",
        "family",
        "status",
        "auc",
        "data_version",
        "training_run",
        "champion_since",
        "created_at",
    )
    list_filter = ("status", "family", "name")
    list_select_related = ("data_version", "training_run")
    search_fields = ("version", "mlflow_run_id", "scorer_sha256")

    @admin.display(description="eval AUC")
    def auc(self, obj: ModelVersion) -> str:
        return "-" if obj.eval_auc is None else f"{obj.eval_auc:.4f}"


@admin.register(PromotionRequest)
class PromotionRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "model_version", "status", "decided_by", "decided_at", "created_at")
    list_filter = ("status",)
    list_select_related = ("model_version",)
    search_fields = ("decided_by", "note")


@admin.register(PromotionEvent)
class PromotionEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "action", "reason", "actor", "from_version", "to_version", "created_at")
    list_filter = ("action", "reason")
    search_fields = ("actor", "note")
    date_hierarchy = "created_at"
