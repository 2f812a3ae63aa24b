"""The inference log and its Parquet archives in the Django admin: filterable, read-only."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.serving.models import InferenceArchive, InferenceLog, LabelProvenance


@admin.register(InferenceLog)
class InferenceLogAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "model_version",
        "pclass",
        "sex",
        "age",
        "fare",
        "embarked",
        "prob_survive",
        "label",
        "true_label",
        "latency_ms",
    )
    list_filter = ("model_version", "sex", "pclass", "label", "true_label")
    search_fields = ("request_id",)
    date_hierarchy = "created_at"
    show_full_result_count = False  # no extra COUNT(*) over the whole log per page


@admin.register(LabelProvenance)
class LabelProvenanceAdmin(ReadOnlyAdmin):
    list_display = ("labelled_at", "labelled_by_name", "labelled_via", "inference")
    list_filter = ("labelled_via", "labelled_by_name")
    list_select_related = ("inference",)
    date_hierarchy = "labelled_at"


@admin.register(InferenceArchive)
class InferenceArchiveAdmin(ReadOnlyAdmin):
    list_display = ("day", "rows", "first_id", "last_id", "path", "sha256", "created_at")
    date_hierarchy = "day"
