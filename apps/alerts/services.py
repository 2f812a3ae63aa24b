"""Alerts: record an event, e-mail the subscribers, deliver signed webhooks with retries."""

import json
import logging
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from apps.alerts import signing
from apps.alerts.models import (
    AlertEvent,
    DeliveryAttempt,
    EmailSubscription,
    WebhookDelivery,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)
DELIVERY_TASK = "apps.alerts.services.webhook_delivery_attempt"
EMAIL_TASK = "apps.alerts.services.alert_email_send"


def alert_payload(event: AlertEvent) -> dict[str, Any]:
    """The documented JSON body of every webhook (see docs/alerts.md)."""
    return {
        "id": str(event.uuid),
        "type": event.kind,
        "subject": event.subject,
        "created_at": event.created_at.isoformat(),
        "dashboard": settings.ALERT_BASE_URL,
        "data": event.data,
    }


def alert_emit(
    *, kind: str, subject: str, data: dict[str, Any], dedupe_key: str | None = None
) -> AlertEvent | None:
    """Record an alert and hand its e-mail and webhooks to the worker once committed."""
    try:
        with transaction.atomic():
            event = AlertEvent.objects.create(
                kind=kind, subject=subject[:200], data=data, dedupe_key=dedupe_key
            )
            deliveries = [
                WebhookDelivery.objects.create(
                    event=event, endpoint=endpoint, next_attempt_at=timezone.now()
                )
                for endpoint in WebhookEndpoint.objects.filter(is_active=True)
                if endpoint.wants(kind)
            ]
    except IntegrityError:  # already told (same dedupe key)
        return None
    transaction.on_commit(lambda: _enqueue(event, deliveries), robust=True)
    return event


def _enqueue(event: AlertEvent, deliveries: list[WebhookDelivery]) -> None:
    # The alert is recorded either way; a queue hiccup must not fail the caller's action.
    try:
        async_task(EMAIL_TASK, event_id=event.pk)
        for delivery in deliveries:
            async_task(DELIVERY_TASK, delivery_id=delivery.pk)
    except Exception:
        logger.exception("alert %s: could not enqueue its deliveries", event.pk)


def alert_email_send(*, event_id: int) -> int:
    """E-mail the event to every subscriber who wants its kind; returns how many were sent."""
    event = AlertEvent.objects.get(pk=event_id)
    recipients = [s.address for s in EmailSubscription.objects.all() if s.wants(event.kind)]
    if not recipients:
        return 0
    body = json.dumps(alert_payload(event), indent=2, sort_keys=True)
    sent = send_mail(
        f"[Titanic Ops] {event.subject}",
        f"{event.subject}\n\n{settings.ALERT_BASE_URL}\n\n{body}\n",
        settings.DEFAULT_FROM_EMAIL,
        recipients,
    )
    AlertEvent.objects.filter(pk=event.pk).update(emailed=len(recipients) if sent else 0)
    return len(recipients) if sent else 0


def _post(endpoint: WebhookEndpoint, event: AlertEvent, delivery_id: int) -> tuple[int, str]:
    body = json.dumps(alert_payload(event), sort_keys=True).encode()
    stamp = int(time.time())
    if not endpoint.url.startswith(("http://", "https://")):
        return 0, f"refused: {endpoint.url!r} is not an http(s) URL"
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            signing.TIMESTAMP_HEADER: str(stamp),
            signing.SIGNATURE_HEADER: signing.signature(
                secret=endpoint.secret, timestamp=stamp, body=body
            ),
            signing.EVENT_HEADER: event.kind,
            signing.DELIVERY_HEADER: str(delivery_id),
        },
    )
    try:
        with urllib.request.urlopen(  # noqa: S310 (operators configure http(s) endpoints)
            request, timeout=settings.ALERT_WEBHOOK_TIMEOUT_SECONDS
        ) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return 0, f"{type(exc).__name__}: {exc}"


def webhook_delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> str:
    """Try one due delivery once; on failure schedule the next try with exponential backoff."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("event", "endpoint")
            .get(pk=delivery_id)
        )
        due = delivery.next_attempt_at is None or delivery.next_attempt_at <= now
        if delivery.status != WebhookDelivery.Status.PENDING or not due:
            return delivery.status  # a duplicate or early task: nothing to do yet
        delivery.attempts += 1
        delivery.next_attempt_at = None
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    started = time.perf_counter()
    code, error = _post(delivery.endpoint, delivery.event, delivery.pk)
    ok = 200 <= code < 300
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        started_at=now,
        status_code=code or None,
        latency_ms=(time.perf_counter() - started) * 1000.0,
        ok=ok,
        error=error,
    )
    return _delivery_settle(delivery, ok=ok, now=now)


def _delivery_settle(delivery: WebhookDelivery, *, ok: bool, now: datetime) -> str:
    if ok:
        delivery.status = WebhookDelivery.Status.DELIVERED
    elif delivery.attempts >= settings.ALERT_WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
    else:
        wait = settings.ALERT_WEBHOOK_BACKOFF_SECONDS * 2 ** (delivery.attempts - 1)
        delivery.next_attempt_at = now + timedelta(seconds=wait)
        Schedule.objects.create(
            name=f"alert-delivery-{delivery.pk}-{delivery.attempts + 1}",
            func=DELIVERY_TASK,
            kwargs=f"delivery_id={delivery.pk}",
            schedule_type=Schedule.ONCE,
            repeats=-1,
            next_run=delivery.next_attempt_at,
        )
    delivery.save(update_fields=["status", "next_attempt_at"])
    return delivery.status


def webhook_test_send(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """The admin's "send test event": a sample event to this endpoint only, attempted now."""
    event = AlertEvent.objects.create(
        kind="test", subject=f"test event for {endpoint.name}", data={"sample": True}
    )
    delivery = WebhookDelivery.objects.create(
        event=event, endpoint=endpoint, next_attempt_at=timezone.now()
    )
    webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery
