"""Training runs: the list, Retrain now (permission, single flight), run detail and progress."""

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django_q.models import OrmQ

from apps.training.models import TrainingRun
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_lists_runs_with_their_facts(viewer_client: Client) -> None:
    run = f.run_create()
    body = viewer_client.get(reverse("dashboard:runs")).content.decode()
    assert f'href="/runs/{run.pk}/"' in body
    assert "succeeded" in body and "0.8841" in body and ">rf<" in body
    assert "70 s" in body  # duration from started_at to finished_at


def test_it_enqueues_a_run_for_a_permitted_user(approver_client: Client) -> None:
    f.data_version_create()
    response = approver_client.post(
        reverse("dashboard:retrain"), {"profile": "quick", "families": ["lr", "gbt"]}
    )
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert (run.status, run.families, run.trigger, run.profile) == (
        "queued",
        ["lr", "gbt"],
        "dashboard",
        "quick",
    )
    assert run.requested_by.username == "alice"
    assert OrmQ.objects.count() == 1  # handed to the worker by dotted path
    assert _messages(response) == [f"Training run {run.pk} queued (quick: lr, gbt)."]


def test_it_refuses_a_second_run_with_a_message(approver_client: Client) -> None:
    busy = f.run_create(status="running")
    response = approver_client.post(
        reverse("dashboard:retrain"), {"profile": "quick", "families": ["lr"]}
    )
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:runs")
    [message] = _messages(response)
    assert message.startswith("Retrain refused: a training job is already in progress")
    assert f"training run {busy.pk} is running" in message
    assert TrainingRun.objects.count() == 1 and OrmQ.objects.count() == 0


def test_it_refuses_a_repeat_unless_the_box_is_ticked(approver_client: Client) -> None:
    f.data_version_create()
    request = {"profile": "quick", "families": ["lr"]}
    approver_client.post(reverse("dashboard:retrain"), request)
    TrainingRun.objects.update(status="succeeded", active=None)
    message = _messages(approver_client.post(reverse("dashboard:retrain"), request))[-1]
    assert message.startswith("Retrain refused: data v")
    assert "already trained with these parameters" in message
    assert TrainingRun.objects.count() == 1
    forced = approver_client.post(reverse("dashboard:retrain"), {**request, "force": "on"})
    assert forced.status_code == 302 and TrainingRun.objects.count() == 2
    assert (
        "train even if the data and parameters"
        in approver_client.get(reverse("dashboard:runs")).content.decode()
    )


def test_it_refuses_without_a_data_version(approver_client: Client) -> None:
    response = approver_client.post(
        reverse("dashboard:retrain"), {"profile": "quick", "families": ["lr"]}
    )
    assert "there is no data version yet" in _messages(response)[0]
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"profile": "huge", "families": ["lr"]},
        {"profile": "quick", "families": ["svm"]},
        {"profile": "quick"},
        {"profile": "' OR 1=1--", "families": ["lr"]},
    ],
)
def test_it_validates_the_retrain_form(approver_client: Client, payload: dict) -> None:
    f.data_version_create()
    response = approver_client.post(reverse("dashboard:retrain"), payload)
    assert response.status_code == 302
    assert _messages(response)[0].startswith("Retrain refused:")
    assert not TrainingRun.objects.exists()


def test_it_forbids_retrain_without_the_permission(viewer_client: Client) -> None:
    f.data_version_create()
    response = viewer_client.post(
        reverse("dashboard:retrain"), {"profile": "quick", "families": ["lr"]}
    )
    assert response.status_code == 403
    assert not TrainingRun.objects.exists()
    body = viewer_client.get(reverse("dashboard:runs")).content.decode()
    assert 'id="retrain-button"' not in body


def test_it_disables_the_button_while_a_job_runs(approver_client: Client) -> None:
    f.run_create(status="running")
    body = approver_client.get(reverse("dashboard:runs")).content.decode()
    assert 'id="retrain-button" disabled' in body
    assert "data-progress-url" in body  # the page polls the job's progress


def test_it_reports_progress_as_json(viewer_client: Client) -> None:
    assert viewer_client.get(reverse("dashboard:run-progress")).json() == {"active": None}
    run = f.run_create(status="running")
    payload = viewer_client.get(reverse("dashboard:run-progress")).json()["active"]
    assert payload == {
        "id": run.pk,
        "status": "running",
        "profile": "quick",
        "families": ["lr", "rf", "gbt"],
        "done": 2,
        "total": 5,
        "percent": 40.0,
    }


def test_it_draws_the_run_detail_from_the_results(viewer_client: Client) -> None:
    run = f.run_create()
    page = viewer_client.get(reverse("dashboard:run", args=[run.pk]))
    figures = page.context["figures"]
    leaderboard = figures["leaderboard"]["data"][0]
    assert leaderboard["x"] == ["rf", "gbt", "lr"]  # best first
    assert leaderboard["y"] == [0.8841, 0.8712, 0.8676]
    assert [t["name"] for t in figures["roc"]["data"]] == [
        "lr (AUC 0.868)",
        "rf (AUC 0.884)",
        "gbt (AUC 0.871)",
        "chance",
    ]
    assert figures["time"]["data"][0]["x"] == [10.1, 21.7, 35.2]
    assert figures["resources"]["data"][1]["y"] == [970.1, 1180.5, 1320.0]
    per_family = {item["family"]: item for item in page.context["per_family"]}
    assert per_family["lr"]["confusion"]["data"][0]["z"] == [[74, 10], [14, 47]]
    assert per_family["lr"]["weights"]["layout"]["title"]["text"] == "lr: coefficients"
    assert per_family["rf"]["weights"]["layout"]["title"]["text"] == "rf: feature importances"
    body = page.content.decode()
    assert body.count('class="chart"') == 4 + 2 * 3
    assert "/assets/plotly.min.js?v=" in body


def test_it_shows_a_running_job_without_results(viewer_client: Client) -> None:
    run = f.run_create(status="running")
    page = viewer_client.get(reverse("dashboard:run", args=[run.pk]))
    assert page.status_code == 200 and page.context["figures"] == {}
    assert b"No family has finished yet" in page.content


def test_it_shows_a_failed_runs_error(viewer_client: Client) -> None:
    run = f.run_create(status="failed", error="TrainingDataError: file missing")
    body = viewer_client.get(reverse("dashboard:run", args=[run.pk])).content
    assert b"TrainingDataError: file missing" in body
