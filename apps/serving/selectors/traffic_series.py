"""Time series of the inference log for the overview's charts, aggregated in the database."""

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Case, Count, F, IntegerField, Max, Sum, When
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from apps.serving.models import InferenceLog


def traffic_by_hour(*, hours: int = 24, now: datetime | None = None) -> list[dict[str, Any]]:
    """Requests, mean and worst latency per hour of the last `hours` hours (one GROUP BY)."""
    since = (now or timezone.now()) - timedelta(hours=hours)
    rows = (
        InferenceLog.objects.filter(created_at__gt=since)
        .annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(requests=Count("id"), mean_ms=Avg("latency_ms"), max_ms=Max("latency_ms"))
        .order_by("hour")
    )
    return [dict(row) for row in rows]


def realised_accuracy_by_day(
    *, days: int = 30, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Labelled requests and how many the model got right, per day (one GROUP BY)."""
    since = (now or timezone.now()) - timedelta(days=days)
    right = Case(When(label=F("true_label"), then=1), default=0, output_field=IntegerField())
    rows = (
        InferenceLog.objects.filter(created_at__gt=since, true_label__isnull=False)
        .annotate(day=TruncDay("created_at"))
        .values("day")
        .annotate(labelled=Count("id"), correct=Sum(right))
        .order_by("day")
    )
    return [dict(row) for row in rows]
