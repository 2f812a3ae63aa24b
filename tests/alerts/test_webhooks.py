"""Alerts against a real local HTTP receiver: signatures, retries with backoff, e-mail."""

import http.server
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule

from apps.alerts import signing
from apps.alerts.models import (
    AlertEvent,
    DeliveryAttempt,
    EmailSubscription,
    WebhookDelivery,
    WebhookEndpoint,
)
from apps.alerts.services import alert_email_send, alert_emit, webhook_delivery_attempt
from apps.training.models import PromotionEvent, TrainingRun

pytestmark = pytest.mark.django_db
SECRET = "receiver-shared-secret"


class Receiver:
    """An HTTP server on a free port answering the next codes in `answers` (then 200)."""

    def __init__(self) -> None:
        self.answers: list[int] = []
        self.received: list[dict[str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append({"headers": dict(self.headers), "body": body})
                self.send_response(outer.answers.pop(0) if outer.answers else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def endpoint(receiver: Receiver) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(name="pager", url=receiver.url, secret=SECRET)


def _verify(item: dict[str, Any], body: bytes | None = None) -> bool:
    headers = item["headers"]
    return signing.signature_verify(
        secret=SECRET,
        timestamp=headers[signing.TIMESTAMP_HEADER],
        body=item["body"] if body is None else body,
        signature_header=headers[signing.SIGNATURE_HEADER],
        now=time.time(),
    )


def test_it_signs_the_body_so_the_receiver_can_verify_it(
    endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    event = alert_emit(kind="model.promoted", subject="v2 is champion", data={"to_version": 2})
    delivery = WebhookDelivery.objects.get(event=event)
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == "delivered"
    [item] = receiver.received
    assert _verify(item)
    payload = json.loads(item["body"])
    assert payload["type"] == "model.promoted"
    assert payload["data"] == {"to_version": 2}
    assert item["headers"][signing.EVENT_HEADER] == "model.promoted"
    # A tampered body, another secret or an old timestamp fail.
    assert not _verify(item, body=item["body"].replace(b"2", b"3"))
    headers = item["headers"]
    assert not signing.signature_verify(
        secret="other",
        timestamp=headers[signing.TIMESTAMP_HEADER],
        body=item["body"],
        signature_header=headers[signing.SIGNATURE_HEADER],
        now=time.time(),
    )
    assert not signing.signature_verify(
        secret=SECRET,
        timestamp=headers[signing.TIMESTAMP_HEADER],
        body=item["body"],
        signature_header=headers[signing.SIGNATURE_HEADER],
        now=time.time() + 3600,
    )


def test_it_retries_a_failing_receiver_with_backoff_and_records_every_attempt(
    endpoint: WebhookEndpoint, receiver: Receiver, settings: Any
) -> None:
    settings.ALERT_WEBHOOK_BACKOFF_SECONDS = 30.0
    receiver.answers = [500, 500]
    event = alert_emit(kind="training.failed", subject="run 7 failed", data={})
    delivery = WebhookDelivery.objects.get(event=event)
    now = timezone.now()
    assert webhook_delivery_attempt(delivery_id=delivery.pk, now=now) == "pending"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == now + timedelta(seconds=30)
    # Not due yet: a duplicate task does nothing.
    early = now + timedelta(seconds=10)
    assert webhook_delivery_attempt(delivery_id=delivery.pk, now=early) == "pending"
    assert len(receiver.received) == 1
    second = now + timedelta(seconds=30)
    assert webhook_delivery_attempt(delivery_id=delivery.pk, now=second) == "pending"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == second + timedelta(seconds=60)  # doubled
    third = second + timedelta(seconds=60)
    assert webhook_delivery_attempt(delivery_id=delivery.pk, now=third) == "delivered"
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery))
    assert [a.status_code for a in attempts] == [500, 500, 200]
    assert [a.ok for a in attempts] == [False, False, True]
    assert all(a.latency_ms >= 0 for a in attempts)
    # The worker picks the retries up from one-off schedules at the backoff times.
    runs = sorted(Schedule.objects.filter(func__endswith="webhook_delivery_attempt"), key=str)
    assert [s.next_run for s in runs] == [now + timedelta(seconds=30), third]
    assert all(_verify(item) for item in receiver.received)


def test_it_gives_up_after_the_configured_attempts(
    endpoint: WebhookEndpoint, receiver: Receiver, settings: Any
) -> None:
    settings.ALERT_WEBHOOK_MAX_ATTEMPTS = 2
    receiver.answers = [503, 503, 503]
    event = alert_emit(kind="test", subject="x", data={})
    delivery = WebhookDelivery.objects.get(event=event)
    now = timezone.now()
    webhook_delivery_attempt(delivery_id=delivery.pk, now=now)
    later = now + timedelta(hours=1)
    assert webhook_delivery_attempt(delivery_id=delivery.pk, now=later) == "failed"
    assert delivery.tries.count() == 2


def test_it_emails_subscribers_through_the_mail_backend(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    EmailSubscription.objects.create(address="oncall@example.com")
    EmailSubscription.objects.create(address="ml@example.com", events=["model.promoted"])
    event = alert_emit(kind="drift.critical", subject="critical drift on v3", data={"x": 1})
    assert alert_email_send(event_id=event.pk) == 1
    [message] = mail.outbox
    assert message.to == ["oncall@example.com"]
    assert "critical drift on v3" in message.subject


def test_it_alerts_on_promotion_events_once(endpoint: WebhookEndpoint) -> None:
    PromotionEvent.objects.create(
        action="await", reason="gate", actor="gate", from_version=1, to_version=2
    )
    PromotionEvent.objects.create(
        action="rollback", reason="rollback", actor="alice", from_version=2, to_version=1
    )
    kinds = sorted(AlertEvent.objects.values_list("kind", flat=True))
    assert kinds == ["candidate.waiting", "model.rolled_back"]
    assert WebhookDelivery.objects.count() == 2


def test_it_lets_only_operators_manage_endpoints(
    endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    operator = User.objects.create_user("operator", password="x", is_staff=True)
    operator.user_permissions.add(Permission.objects.get(codename="manage_alerts"))
    client = Client()
    client.force_login(viewer)
    assert client.get("/admin/alerts/webhookendpoint/").status_code == 403
    client.force_login(operator)
    assert client.get("/admin/alerts/webhookendpoint/").status_code == 200
    answer = client.post(
        "/admin/alerts/webhookendpoint/",
        {"action": "send_test_event", "_selected_action": [endpoint.pk]},
    )
    assert answer.status_code == 302
    assert json.loads(receiver.received[-1]["body"])["type"] == "test"


def test_it_never_lets_a_broken_alert_break_the_action(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fault injection (the only stand-in here): the alert store fails outright.
    def broken(**_: Any) -> None:
        raise RuntimeError("alert store down")

    monkeypatch.setattr("apps.alerts.services.alert_emit", broken)
    PromotionEvent.objects.create(
        action="promote", reason="manual", actor="alice", from_version=1, to_version=2
    )
    assert PromotionEvent.objects.count() == 1
    assert AlertEvent.objects.count() == 0


def test_it_alerts_on_critical_drift_estimated_drops_and_failed_training() -> None:
    from django.utils import timezone as tz

    from apps.monitoring.models import DriftReport
    from tests.factories import data_version

    now = tz.now()
    DriftReport.objects.create(
        window_start=now,
        window_end=now,
        verdict="critical",
        max_psi=0.52,
        model_version=3,
        performance={"drops": {"accuracy": 0.08}},
    )
    DriftReport.objects.create(window_start=now, window_end=now, verdict="none", max_psi=0.01)
    run = TrainingRun.objects.create(profile="quick", data_version=data_version(), active=None)
    run.status, run.error = "failed", "executor lost"
    run.save()
    run.save()  # a second save of the same failure is not a second alert
    kinds = sorted(AlertEvent.objects.values_list("kind", flat=True))
    assert kinds == ["drift.critical", "performance.drop", "training.failed"]
    drop = AlertEvent.objects.get(kind="performance.drop")
    assert "accuracy -0.080" in drop.subject


def test_it_alerts_once_when_a_drift_incident_opens_and_once_when_it_closes() -> None:
    from django.utils import timezone as tz

    from apps.monitoring.models import DriftIncident

    incident = DriftIncident.objects.create(
        opened_at=tz.now(), model_version=1, verdict="critical", features=["Fare"]
    )
    incident.verdict = "critical"
    incident.save()  # still open: no second alert
    incident.status, incident.acknowledged_by, incident.note = "acknowledged", "ops", "seen"
    incident.closed_at = tz.now()
    incident.save()
    incident.save()  # closed twice is still one alert
    events = list(AlertEvent.objects.order_by("id").values_list("kind", "subject"))
    assert [kind for kind, _ in events] == ["drift_incident.opened", "drift_incident.closed"]
    assert "Fare" in events[0][1] and "acknowledged by ops: seen" in events[1][1]


def test_it_alerts_once_when_the_registry_starts_to_disagree(settings: Any) -> None:
    from django.core.cache import cache

    from apps.training.selectors.registry_checks import CHECK_KEY
    from apps.training.services.registry_sync import registry_check_store

    cache.delete(CHECK_KEY)
    registry_check_store(database_version=1, registry_version=1)
    registry_check_store(database_version=1, registry_version=2)  # someone moved the alias
    registry_check_store(database_version=1, registry_version=2)  # still: no second alert
    registry_check_store(database_version=1, registry_version=1)
    events = list(AlertEvent.objects.values_list("kind", "subject"))
    assert events == [
        (
            "registry.disagreement",
            "registry and database disagree: database champion v1, alias points at v2; "
            "run manage.py reconcile_registry",
        )
    ]
