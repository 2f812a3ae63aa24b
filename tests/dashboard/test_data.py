"""Data versions: source, size, balance, missingness and lineage down to traffic served."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.training.models import PromotionEvent
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def lineage(db: Any) -> dict[str, Any]:
    first = f.data_version_create("1" * 32)
    second = f.data_version_create(
        "2" * 32, parent=first, labelled_rows_added=40, rows=931, positives=360
    )
    run = f.run_create(data=first)
    v1 = f.model_version_create(1, run=run)
    PromotionEvent.objects.create(action="promote", reason="auto", actor="gate", to_version=1)
    f.run_create(data=first, status="failed")
    f.inference_rows(25, version=1)
    return {"first": first, "second": second, "run": run, "v1": v1}


def test_it_lists_versions_with_balance_missingness_and_use(
    viewer_client: Client, lineage: Any
) -> None:
    page = viewer_client.get(reverse("dashboard:data"))
    rows = {row.data_version.pk: row for row in page.context["rows"]}
    first = rows[lineage["first"].pk]
    assert (first.run_count, [m.version for m in first.models], first.served) == (2, [1], 25)
    assert rows[lineage["second"].pk].run_count == 0
    age = next(cell for cell in first.missing if cell["column"] == "Age")
    assert age["count"] == 177 and age["percent"] == pytest.approx(19.865, abs=1e-3)
    body = page.content.decode()
    assert "38%" in body  # 342 of 891 survived
    assert "+40 labelled rows" in body and "kaggle train.csv (test)" in body


def test_it_traces_a_version_down_to_the_traffic(viewer_client: Client, lineage: Any) -> None:
    page = viewer_client.get(reverse("dashboard:data-version", args=[lineage["first"].pk]))
    [used, failed] = sorted(page.context["lineage"], key=lambda item: item.run.pk)
    assert used.run == lineage["run"] and failed.models == []
    [model] = used.models
    assert model["model"].version == 1 and model["served"] == 25
    assert [e.actor for e in model["events"]] == ["gate"]
    body = page.content.decode()
    assert "served 25 requests" in body and "Promote by gate" in body
    assert f'href="/data/{lineage["second"].pk}/"' in body  # its child


def test_it_shows_the_parent_of_a_derived_version(viewer_client: Client, lineage: Any) -> None:
    body = viewer_client.get(reverse("dashboard:data-version", args=[lineage["second"].pk]))
    assert f'/data/{lineage["first"].pk}/">v{lineage["first"].pk}</a> + 40 labelled' in (
        body.content.decode()
    )
