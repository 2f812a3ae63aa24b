"""Pages stay cheap with a realistic amount of history: 10,000 inference rows and 100 runs.

Each page must render with a small, fixed number of queries (aggregates in the database,
pagination, select_related): a page that grew an N+1 would blow the bound.
"""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.monitoring.models import DriftReport
from apps.serving.models import InferenceLog
from apps.training.models import ModelVersion, PromotionEvent, TrainingRun
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db

# Independent of how many rows, runs or reports exist. The overview is the widest page: session,
# user, two permission reads, the registry check, the active run, the open drift incident, the
# champion, the latest decision, traffic count and median, the latest report, pending approvals.
MAX_QUERIES = 14


@pytest.fixture
def history(db: Any) -> dict[str, Any]:
    data = f.data_version_create()
    runs = [f.run_create(data=data) for _ in range(99)]
    runs.append(f.run_create(data=data, status="running"))
    champion = None
    for number in range(1, 11):
        champion = f.model_version_create(number, run=runs[number])
        PromotionEvent.objects.create(
            action="promote",
            reason="auto",
            actor="gate",
            from_version=number - 1 or None,
            to_version=number,
        )
    candidate = f.model_version_create(11, status=ModelVersion.Status.CANDIDATE, run=runs[11])
    f.pending_request(candidate, champion)
    now = timezone.now()
    for hours in range(60):
        f.drift_report_create(
            created_at=now - timedelta(hours=hours),
            verdict=DriftReport.Verdict.NONE,
            psi={name: 0.01 * (hours % 10) for name in f.FEATURES},
        )
    f.inference_rows(10_000, version=10, spread_hours=72)
    assert InferenceLog.objects.count() == 10_000 and TrainingRun.objects.count() == 100
    return {"data": data, "run": runs[5], "report": DriftReport.objects.first()}


def _urls(history: dict[str, Any]) -> list[str]:
    return [
        reverse("dashboard:overview"),
        reverse("dashboard:runs"),
        reverse("dashboard:runs") + "?page=4",
        reverse("dashboard:run", args=[history["run"].pk]),
        reverse("dashboard:run-progress"),
        reverse("dashboard:models"),
        reverse("dashboard:rollback"),
        reverse("dashboard:drift"),
        reverse("dashboard:drift-report", args=[history["report"].pk]),
        reverse("dashboard:traffic"),
        reverse("dashboard:traffic") + "?sex=female&pclass=1&labelled=yes&sort=-latency_ms&page=3",
        reverse("dashboard:traffic-csv") + "?sex=female&pclass=2",
        reverse("dashboard:data"),
        reverse("dashboard:data-version", args=[history["data"].pk]),
    ]


def test_it_renders_each_page_with_a_bounded_number_of_queries(
    approver_client: Client, history: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    for url in _urls(history):
        with django_assert_max_num_queries(MAX_QUERIES):
            response = approver_client.get(url)
            if hasattr(response, "streaming_content"):
                rows = b"".join(response.streaming_content).count(b"\n")
                assert rows > 100, url
        assert response.status_code == 200, url


def test_it_never_loads_run_results_for_lists(
    approver_client: Client, history: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for url in (reverse("dashboard:runs"), reverse("dashboard:overview")):
        with CaptureQueriesContext(connection) as queries:
            approver_client.get(url)
        run_queries = [q["sql"] for q in queries if 'FROM "training_trainingrun"' in q["sql"]]
        assert run_queries and all('"results"' not in sql for sql in run_queries), url
