"""Every dashboard page: login required, renders for a signed-in user, empty or populated."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.monitoring.models import DriftReport
from apps.training.models import ModelVersion
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db

PAGES = [
    ("dashboard:overview", {}),
    ("dashboard:runs", {}),
    ("dashboard:run-progress", {}),
    ("dashboard:models", {}),
    ("dashboard:drift", {}),
    ("dashboard:traffic", {}),
    ("dashboard:traffic-csv", {}),
    ("dashboard:data", {}),
]


@pytest.fixture
def populated(db: Any) -> dict[str, Any]:
    """A little of everything: a champion, a pending candidate, runs, reports and traffic."""
    data = f.data_version_create()
    champion = f.model_version_create(1, run=f.run_create(data=data))
    candidate = f.model_version_create(
        2,
        status=ModelVersion.Status.CANDIDATE,
        run=f.run_create(data=data),
        auc=0.8841,
        family="rf",
    )
    f.pending_request(candidate, champion)
    f.run_create(status="running", data=data)
    report = f.drift_report_create(
        verdict=DriftReport.Verdict.WARNING, psi={"Sex": 0.25, "Age": 0.05, "Pclass": 0.1}
    )
    f.inference_rows(30)
    return {"data": data, "champion": champion, "candidate": candidate, "report": report}


def _detail_pages(populated: dict[str, Any]) -> list[str]:
    return [
        reverse("dashboard:run", args=[populated["champion"].training_run_id]),
        reverse("dashboard:drift-report", args=[populated["report"].pk]),
        reverse("dashboard:data-version", args=[populated["data"].pk]),
        reverse("dashboard:rollback"),
    ]


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_it_sends_anonymous_visitors_to_the_login_page(
    client: Client, name: str, kwargs: dict
) -> None:
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("dashboard:login") + "?next=")


def test_it_guards_detail_pages_and_actions_too(client: Client, populated: dict[str, Any]) -> None:
    for url in _detail_pages(populated):
        assert client.get(url).status_code == 302, url
    for url in (
        reverse("dashboard:approve", args=[2]),
        reverse("dashboard:reject", args=[2]),
        reverse("dashboard:rollback"),
        reverse("dashboard:retrain"),
    ):
        response = client.post(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    assert ModelVersion.objects.get(version=2).status == "candidate"


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_it_renders_every_page_on_an_empty_database(
    viewer_client: Client, name: str, kwargs: dict
) -> None:
    assert viewer_client.get(reverse(name, kwargs=kwargs)).status_code == 200


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_it_renders_every_page_with_data(
    approver_client: Client, populated: dict[str, Any], name: str, kwargs: dict
) -> None:
    assert approver_client.get(reverse(name, kwargs=kwargs)).status_code == 200


def test_it_renders_detail_pages_and_404s_unknown_ids(
    approver_client: Client, populated: dict[str, Any]
) -> None:
    for url in _detail_pages(populated):
        assert approver_client.get(url).status_code == 200, url
    for name in ("dashboard:run", "dashboard:drift-report", "dashboard:data-version"):
        assert approver_client.get(reverse(name, args=[999999])).status_code == 404


def test_it_shows_a_login_page_that_signs_in(client: Client, viewer: Any) -> None:
    page = client.get(reverse("dashboard:login"))
    assert page.status_code == 200 and b'name="password"' in page.content
    response = client.post(
        reverse("dashboard:login"),
        {"username": "viola", "password": "a-long-test-password-42", "next": "/traffic/"},
    )
    assert response.status_code == 302 and response["Location"] == "/traffic/"
    assert client.get("/traffic/").status_code == 200


def test_it_lands_on_the_overview_without_a_next_page(client: Client, viewer: Any) -> None:
    response = client.post(
        reverse("dashboard:login"), {"username": "viola", "password": "a-long-test-password-42"}
    )
    assert response.status_code == 302 and response["Location"] == "/"


def test_it_refuses_a_wrong_password(client: Client, viewer: Any) -> None:
    response = client.post(reverse("dashboard:login"), {"username": "viola", "password": "nope"})
    assert response.status_code == 200 and b"did not match" in response.content
    assert client.get("/").status_code == 302


def test_it_logs_out_with_a_post(viewer_client: Client) -> None:
    response = viewer_client.post(reverse("dashboard:logout"))
    assert response.status_code == 302
    assert viewer_client.get("/").status_code == 302


def test_it_keeps_the_api_and_admin_routes(client: Client) -> None:
    assert client.get("/health").status_code in (200, 503)
    assert client.get("/admin/login/").status_code == 200
    assert client.get("/api/schema/").status_code == 200
