"""The overview's pictures: traffic, latency, PSI and realised accuracy, aggregated in SQL."""

from datetime import timedelta
from typing import Any

import pytest
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from sklearn.metrics import roc_auc_score

from apps.serving.models import InferenceLog
from apps.serving.selectors.traffic_series import binned_auc
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db


def test_it_draws_traffic_latency_psi_and_accuracy(
    viewer_client: Client, django_assert_max_num_queries: Any
) -> None:
    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    f.inference_rows(2_000, now=now, spread_hours=72)  # 24 h of it is in the window
    f.drift_report_create(psi={"Sex": 0.05, "Age": 0.1}, created_at=now - timedelta(hours=2))
    f.drift_report_create(psi={"Sex": 0.35, "Age": 0.12}, created_at=now - timedelta(hours=1))
    with django_assert_max_num_queries(9):
        figures = viewer_client.get(reverse("dashboard:overview-charts")).json()
    in_window = InferenceLog.objects.filter(created_at__gt=timezone.now() - timedelta(hours=24))
    assert sum(figures["traffic"]["data"][0]["y"]) == in_window.count()
    assert len(figures["traffic"]["data"][0]["x"]) in (24, 25)
    assert all(1 <= y <= 100 for y in figures["latency"]["data"][0]["y"])
    sex = next(t for t in figures["psi"]["data"] if t["name"] == "Sex")
    assert sex["y"] == [0.05, 0.35]
    accuracy = figures["accuracy"]["data"][0]
    labelled = InferenceLog.objects.filter(true_label__isnull=False)
    right = labelled.filter(label=F("true_label")).count()
    counts = [int(text.split()[0]) for text in accuracy["text"]]
    assert sum(counts) == labelled.count()
    assert sum(y * n for y, n in zip(accuracy["y"], counts, strict=True)) == pytest.approx(
        right, abs=0.01 * len(counts)
    )
    # Realised AUC per day, from binned scores, against the exact AUC of that day's rows.
    auc = figures["accuracy"]["data"][1]
    assert auc["name"] == "AUC" and auc["x"] == accuracy["x"]
    checked = 0
    for day, value in zip(auc["x"], auc["y"], strict=True):
        rows = labelled.filter(created_at__date=day).values_list("true_label", "prob_survive")
        y_true, scores = zip(*rows, strict=True)
        if len(set(y_true)) < 2:
            assert value is None
            continue
        assert value == pytest.approx(roc_auc_score(y_true, scores), abs=0.01)
        checked += 1
    assert checked >= 2


def test_the_binned_auc_counts_ties_in_a_slot_as_half() -> None:
    # slots: [negatives, positives]; positives above every negative -> 1.0
    assert binned_auc([[3, 0], [0, 0], [0, 2]]) == 1.0
    assert binned_auc([[0, 2], [3, 0]]) == 0.0
    # one slot with 1 negative and 1 positive: a tie, half right
    assert binned_auc([[1, 1]]) == 0.5
    # 2 negatives below, 1 positive tied with 1 negative, 1 positive on top:
    # pairs: p1 beats 2, ties 1 (2.5 of 3); p2 beats 3 -> 5.5 / 6
    assert binned_auc([[2, 0], [1, 1], [0, 1]]) == pytest.approx(5.5 / 6)
    assert binned_auc([[0, 4]]) is None and binned_auc([[5, 0]]) is None


def test_it_says_there_is_nothing_to_draw_on_a_fresh_platform(viewer_client: Client) -> None:
    figures = viewer_client.get(reverse("dashboard:overview-charts")).json()
    assert figures == {
        "traffic": None,
        "latency": None,
        "psi": None,
        "accuracy": None,
        "estimate": None,
    }
    page = viewer_client.get(reverse("dashboard:overview")).content.decode()
    assert 'data-figure-key="traffic"' in page and 'data-figure-key="accuracy"' in page
    assert "plotly.min.js" in page
