"""The traffic page: filters validated (hostile values never reach SQL), pages, CSV export."""

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.serving.models import InferenceLog
from apps.serving.selectors.inference_log import traffic_summary
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db

HOSTILE = [
    {"sex": "' OR 1=1--"},
    {"pclass": "1 OR 1=1"},
    {"pclass": "4"},
    {"label": "2"},
    {"model_version": "1; DROP TABLE serving_inferencelog"},
    {"model_version": "-3"},
    {"model_version": "99999999999999999999"},
    {"labelled": "maybe"},
    {"sort": "password"},
    {"sort": "-created_at; DELETE FROM auth_user"},
    {"sort": "request_id__foo"},
    {"start": "yesterday"},
    {"start": "2026-13-45T25:61"},
    {"end": "0000-00-00"},
    {"start": "2026-05-02T00:00", "end": "2026-05-01T00:00"},
]


@pytest.fixture
def traffic(db: Any) -> list[InferenceLog]:
    return f.inference_rows(120, spread_hours=48)


def _csv(response: Any) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("query", HOSTILE)
def test_it_answers_hostile_filters_with_a_form_error(
    viewer_client: Client, traffic: Any, query: dict
) -> None:
    response = viewer_client.get(reverse("dashboard:traffic"), query)
    assert response.status_code == 400
    assert response.context["form"].errors
    assert b"Some filters are not valid" in response.content
    assert b'id="traffic-table"' not in response.content
    assert InferenceLog.objects.count() == 120


@pytest.mark.parametrize("query", HOSTILE)
def test_it_refuses_hostile_filters_on_the_csv_export(
    viewer_client: Client, traffic: Any, query: dict
) -> None:
    response = viewer_client.get(reverse("dashboard:traffic-csv"), query)
    assert response.status_code == 400
    assert response.content.startswith(b"invalid filters:")


def test_it_pages_the_log_newest_first(viewer_client: Client, traffic: Any) -> None:
    page = viewer_client.get(reverse("dashboard:traffic")).context["page"]
    assert page.paginator.count == 120 and len(page.object_list) == 50
    times = [row.created_at for row in page.object_list]
    assert times == sorted(times, reverse=True)
    last = viewer_client.get(reverse("dashboard:traffic"), {"page": "3"}).context["page"]
    assert len(last.object_list) == 20
    junk = viewer_client.get(reverse("dashboard:traffic"), {"page": "' OR 1=1--"})
    assert junk.status_code == 200 and junk.context["page"].number == 1


def test_it_combines_filters(viewer_client: Client, traffic: Any) -> None:
    query = {"sex": "female", "pclass": "1", "label": "1", "labelled": "yes"}
    page = viewer_client.get(reverse("dashboard:traffic"), query).context["page"]
    expected = InferenceLog.objects.filter(
        sex="female", pclass=1, label=1, true_label__isnull=False
    ).count()
    assert 0 < expected == page.paginator.count
    unlabelled = viewer_client.get(reverse("dashboard:traffic"), {"labelled": "no"})
    assert (
        unlabelled.context["page"].paginator.count
        == InferenceLog.objects.filter(true_label__isnull=True).count()
    )


def test_it_filters_by_time_range_and_version(viewer_client: Client, traffic: Any) -> None:
    f.inference_rows(5, version=2, spread_hours=1, seed=2)
    start = (timezone.now() - timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M")
    page = viewer_client.get(reverse("dashboard:traffic"), {"start": start, "model_version": "1"})
    rows = page.context["page"].paginator.count
    assert 0 < rows < 120
    assert (
        rows
        == InferenceLog.objects.filter(
            model_version=1, created_at__gte=page.context["form"].cleaned_data["start"]
        ).count()
    )
    assert page.context["versions"] == [1, 2]


def test_it_sorts_only_by_allowed_columns(viewer_client: Client, traffic: Any) -> None:
    page = viewer_client.get(reverse("dashboard:traffic"), {"sort": "prob_survive"})
    values = [row.prob_survive for row in page.context["page"].object_list]
    assert values == sorted(values) and values[0] == min(r.prob_survive for r in traffic)


def test_it_exports_the_filtered_rows_as_csv(viewer_client: Client, traffic: Any) -> None:
    response = viewer_client.get(
        reverse("dashboard:traffic-csv"), {"sex": "male", "sort": "latency_ms"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = _csv(response)
    assert len(rows) == InferenceLog.objects.filter(sex="male").count() > 0
    assert {row["sex"] for row in rows} == {"male"}
    latencies = [float(row["latency_ms"]) for row in rows]
    assert latencies == sorted(latencies)
    assert list(rows[0]) == [
        "request_id",
        "created_at",
        "model_version",
        "pclass",
        "sex",
        "age",
        "sibsp",
        "parch",
        "fare",
        "embarked",
        "prob_survive",
        "label",
        "latency_ms",
        "true_label",
        "labelled_at",
    ]


def test_it_links_the_export_with_the_same_filters(viewer_client: Client, traffic: Any) -> None:
    body = viewer_client.get(reverse("dashboard:traffic"), {"sex": "female", "page": "2"})
    assert 'href="/traffic/export.csv?sex=female"' in body.content.decode()


def test_it_summarises_the_last_24_hours_in_the_database(db: Any) -> None:
    now = timezone.now()
    f.inference_rows(10, now=now, spread_hours=10)  # all inside the window, latencies 1..10
    f.inference_rows(4, now=now - timedelta(hours=30), spread_hours=1, seed=3)  # outside
    summary = traffic_summary(hours=24, now=now)
    inside = InferenceLog.objects.filter(created_at__gte=now - timedelta(hours=24))
    assert summary.count == 10
    assert summary.positives == inside.filter(label=1).count()
    assert summary.p50_latency_ms == 5.5  # median of 1..10
    f.inference_rows(1, now=now - timedelta(minutes=1), spread_hours=0, seed=4)  # latency 1.0
    assert traffic_summary(hours=24, now=now).p50_latency_ms == 5.0  # odd count: the middle one
    empty = traffic_summary(hours=1, now=now - timedelta(days=30))
    assert (empty.count, empty.p50_latency_ms, empty.positive_rate) == (0, None, None)
