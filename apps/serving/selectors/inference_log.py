"""Reads of the inference log: traffic figures aggregated in the database, filtered pages, CSV."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.core.features import LOG_COLUMNS
from apps.serving.models import InferenceLog

LOGS_PER_PAGE = 50
# Sort keys the traffic page accepts, and the columns they order by (nothing else is allowed).
SORTS = {
    "-created_at": ("-created_at", "-id"),
    "created_at": ("created_at", "id"),
    "-prob_survive": ("-prob_survive", "-id"),
    "prob_survive": ("prob_survive", "id"),
    "-latency_ms": ("-latency_ms", "-id"),
    "latency_ms": ("latency_ms", "id"),
    "model_version": ("model_version", "-created_at"),
    "-model_version": ("-model_version", "-created_at"),
}
CSV_COLUMNS = (
    "request_id",
    "created_at",
    "model_version",
    *LOG_COLUMNS.values(),
    "prob_survive",
    "label",
    "latency_ms",
    "true_label",
    "labelled_at",
)


@dataclass(frozen=True)
class TrafficSummary:
    since: datetime
    count: int
    positives: int
    p50_latency_ms: float | None

    @property
    def positive_rate(self) -> float | None:
        return self.positives / self.count if self.count else None

    @property
    def positive_percent(self) -> float | None:
        rate = self.positive_rate
        return None if rate is None else 100.0 * rate


def _median(values: QuerySet[InferenceLog], count: int, column: str) -> float | None:
    """The median by ordered slicing: one query of one or two rows, no other rows in Python."""
    if count == 0:
        return None
    ordered = values.order_by(column).values_list(column, flat=True)
    middle = count // 2
    if count % 2:
        return float(ordered[middle])
    low, high = ordered[middle - 1 : middle + 1]  # both middle values in one query
    return (float(low) + float(high)) / 2.0


def traffic_summary(*, hours: float = 24.0, now: datetime | None = None) -> TrafficSummary:
    """Requests, predicted-survivor share and median latency over the last `hours`."""
    until = now or timezone.now()
    since = until - timedelta(hours=hours)
    window = InferenceLog.objects.filter(created_at__gte=since, created_at__lte=until)
    totals = window.aggregate(n=Count("id"), positives=Count("id", filter=Q(label=1)))
    return TrafficSummary(
        since=since,
        count=totals["n"],
        positives=totals["positives"],
        p50_latency_ms=_median(window, totals["n"], "latency_ms"),
    )


def inference_filter(filters: dict[str, Any]) -> QuerySet[InferenceLog]:
    """The inference log narrowed by validated filters (see serving.forms.TrafficFilterForm)."""
    rows = InferenceLog.objects.all()
    if filters.get("start"):
        rows = rows.filter(created_at__gte=filters["start"])
    if filters.get("end"):
        rows = rows.filter(created_at__lte=filters["end"])
    for name in ("model_version", "sex", "pclass", "label"):
        if filters.get(name) not in (None, ""):
            rows = rows.filter(**{name: filters[name]})
    if filters.get("labelled") == "yes":
        rows = rows.filter(true_label__isnull=False)
    elif filters.get("labelled") == "no":
        rows = rows.filter(true_label__isnull=True)
    return rows.order_by(*SORTS.get(filters.get("sort") or "-created_at", SORTS["-created_at"]))


def inference_page(rows: QuerySet[InferenceLog], number: str | None) -> Page:
    return Paginator(rows, LOGS_PER_PAGE).get_page(number)


def inference_versions() -> list[int]:
    """Model versions that appear in the log (the filter's choices)."""
    return list(
        InferenceLog.objects.order_by("model_version")
        .values_list("model_version", flat=True)
        .distinct()
    )


def inference_csv_rows(rows: QuerySet[InferenceLog]) -> Iterator[tuple[Any, ...]]:
    """The filtered rows as tuples of CSV_COLUMNS, streamed in chunks."""
    yield from rows.values_list(*CSV_COLUMNS).iterator(chunk_size=2000)
