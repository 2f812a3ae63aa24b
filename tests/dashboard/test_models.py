"""Models and promotions: who sees and may press Approve / Reject / Roll back, and what happens.

Successful decisions run the real services against a real MLflow registry (mlflow_registry).
"""

from pathlib import Path
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apps.training.models import ModelVersion, PromotionEvent, PromotionRequest
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(db: Any) -> ModelVersion:
    """Mirror rows only: v1 champion, v2 waiting for approval (enough for pages and refusals)."""
    champion = f.model_version_create(1, auc=0.87)
    candidate = f.model_version_create(2, status=ModelVersion.Status.CANDIDATE, auc=0.88)
    f.pending_request(candidate, champion)
    return candidate


@pytest.fixture
def registered(mlflow_registry: str, tmp_path: Path) -> ModelVersion:
    """The same story in a real MLflow registry: v1 @champion, v2 @challenger and pending."""
    champion = f.registered_version(1, tmp_path=tmp_path, champion=True)
    candidate = f.registered_version(2, tmp_path=tmp_path, champion=False, intercept=0.9)
    f.pending_request(candidate, champion)
    return candidate


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_shows_the_candidate_beside_the_champion(approver_client: Client, pending: Any) -> None:
    page = approver_client.get(reverse("dashboard:models"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Candidate v2 waits for a decision" in body
    assert "0.0100 ± 0.0260" in body  # AUC gain with its standard error
    assert "[-0.0410, 0.0610]" in body  # and its 95% interval
    assert "class 1 recall" in body and "PASS AUC gain" in body
    assert 'id="approve-2"' in body and 'id="reject-2"' in body
    assert "@challenger" in body and "@champion" in body
    gain = page.context["decisions"][0]["figure"]["data"][0]
    assert gain["x"] == [pytest.approx(0.01)]
    assert gain["error_x"]["array"] == [pytest.approx(0.051)]


def test_it_hides_the_buttons_from_people_without_the_permission(
    viewer_client: Client, pending: Any
) -> None:
    body = viewer_client.get(reverse("dashboard:models")).content.decode()
    assert "Candidate v2 waits for a decision" in body
    assert 'id="approve-2"' not in body and 'id="reject-2"' not in body
    assert 'id="rollback-link"' not in body


@pytest.mark.parametrize(
    "url",
    [
        reverse("dashboard:approve", args=[2]),
        reverse("dashboard:reject", args=[2]),
        reverse("dashboard:rollback"),
    ],
)
def test_it_forbids_decisions_without_the_permission(
    viewer_client: Client, pending: Any, url: str
) -> None:
    assert viewer_client.post(url, {"note": "sneaky"}).status_code == 403
    assert ModelVersion.objects.get(version=2).status == "candidate"
    assert ModelVersion.objects.get(is_champion=True).version == 1
    assert not PromotionEvent.objects.exclude(action="await").exists()


def test_it_forbids_the_rollback_confirmation_page_too(viewer_client: Client, pending: Any) -> None:
    assert viewer_client.get(reverse("dashboard:rollback")).status_code == 403


def test_it_refuses_get_on_approve_and_reject(approver_client: Client, pending: Any) -> None:
    assert approver_client.get(reverse("dashboard:approve", args=[2])).status_code == 405
    assert approver_client.get(reverse("dashboard:reject", args=[2])).status_code == 405


@pytest.mark.parametrize(
    "url",
    [
        reverse("dashboard:approve", args=[2]),
        reverse("dashboard:reject", args=[2]),
        reverse("dashboard:rollback"),
        reverse("dashboard:retrain"),
    ],
)
def test_it_enforces_csrf_on_every_action(approver: Any, pending: Any, url: str) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(approver)
    assert client.post(url, {"note": "no token"}).status_code == 403
    assert ModelVersion.objects.get(version=2).status == "candidate"


def test_it_accepts_the_form_with_its_csrf_token(approver: Any, registered: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(approver)
    page = client.get(reverse("dashboard:models"))
    token = page.cookies["csrftoken"].value
    response = client.post(
        reverse("dashboard:reject", args=[2]), {"note": "n", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert ModelVersion.objects.get(version=2).status == "rejected"


def test_it_approves_through_the_real_services(approver_client: Client, registered: Any) -> None:
    response = approver_client.post(
        reverse("dashboard:approve", args=[2]), {"note": "better on class 1"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:models")
    assert _messages(response) == ["Version 2 is now the champion."]
    assert ModelVersion.objects.get(is_champion=True).version == 2
    assert ModelVersion.objects.get(version=1).status == "retired"
    assert PromotionRequest.objects.get().status == "approved"
    event = PromotionEvent.objects.get(action="promote")
    assert (event.actor, event.reason, event.from_version, event.to_version, event.note) == (
        "alice",
        "approval",
        1,
        2,
        "better on class 1",
    )
    assert (f.alias("champion"), f.alias("challenger")) == (2, None)


def test_it_rejects_through_the_real_services(approver_client: Client, registered: Any) -> None:
    response = approver_client.post(reverse("dashboard:reject", args=[2]), {"note": "no"})
    assert _messages(response) == ["Version 2 was rejected."]
    assert ModelVersion.objects.get(version=2).status == "rejected"
    assert PromotionRequest.objects.get().status == "rejected"
    assert PromotionEvent.objects.get(action="reject").actor == "alice"
    assert (f.alias("champion"), f.alias("challenger")) == (1, None)


def test_it_rolls_back_after_a_confirmation(approver_client: Client, registered: Any) -> None:
    approver_client.post(reverse("dashboard:approve", args=[2]))
    confirm = approver_client.get(reverse("dashboard:rollback"))
    assert confirm.status_code == 200
    assert b"Yes, roll back to v1" in confirm.content
    assert ModelVersion.objects.get(is_champion=True).version == 2  # a GET changes nothing

    response = approver_client.post(reverse("dashboard:rollback"), {"note": "v2 misbehaves"})
    assert _messages(response) == ["Rolled back: version 1 is the champion again."]
    assert ModelVersion.objects.get(is_champion=True).version == 1
    assert ModelVersion.objects.get(version=2).status == "rolled_back"
    event = PromotionEvent.objects.get(action="rollback")
    assert (event.actor, event.from_version, event.to_version) == ("alice", 2, 1)
    assert f.alias("champion") == 1
    history = approver_client.get(reverse("dashboard:models")).content.decode()
    assert "v2 misbehaves" in history and "v2 → v1" in history


def test_it_says_why_a_decision_cannot_be_made(approver_client: Client, pending: Any) -> None:
    response = approver_client.post(reverse("dashboard:approve", args=[7]))
    assert response.status_code == 302
    assert _messages(response) == ["Not done: titanic_spark_model has no version 7"]
    response = approver_client.post(reverse("dashboard:reject", args=[1]))
    assert _messages(response)[-1] == "Not done: version 1 is champion, not a candidate"


def test_it_reports_a_tampered_scorer_instead_of_promoting(
    approver_client: Client, registered: ModelVersion
) -> None:
    ModelVersion.objects.filter(version=2).update(scorer_sha256="f" * 64)
    response = approver_client.post(reverse("dashboard:approve", args=[2]))
    assert response.status_code == 302
    [message] = _messages(response)
    assert message.startswith("Not done: scorer file") and message.endswith("f" * 64)
    assert ModelVersion.objects.get(is_champion=True).version == 1
    assert f.alias("champion") == 1


def test_it_explains_when_there_is_nothing_to_roll_back_to(
    approver_client: Client, pending: Any
) -> None:
    page = approver_client.get(reverse("dashboard:rollback"))
    assert b"has no earlier champion to return to" in page.content
    response = approver_client.post(reverse("dashboard:rollback"))
    assert _messages(response) == ["Not done: version 1 has no earlier champion to return to"]


def test_it_refuses_an_overlong_note(approver_client: Client, pending: Any) -> None:
    response = approver_client.post(reverse("dashboard:reject", args=[2]), {"note": "x" * 2001})
    assert response.status_code == 302
    assert _messages(response)[0].startswith("Not done:")
    assert ModelVersion.objects.get(version=2).status == "candidate"
