import uuid

from django.db import models


class Kind(models.TextChoices):
    """Every alert the platform sends; the webhook payload's `type`."""

    DRIFT_CRITICAL = "drift.critical", "critical drift report"
    DRIFT_INCIDENT_OPENED = "drift_incident.opened", "drift incident opened"
    DRIFT_INCIDENT_CLOSED = "drift_incident.closed", "drift incident closed"
    PERFORMANCE_DROP = "performance.drop", "estimated performance drop"
    CANDIDATE_WAITING = "candidate.waiting", "candidate waiting for approval"
    PROMOTED = "model.promoted", "model promoted"
    REJECTED = "model.rejected", "model rejected"
    ROLLED_BACK = "model.rolled_back", "model rolled back"
    TRAINING_FAILED = "training.failed", "training failed"
    REGISTRY_DISAGREEMENT = "registry.disagreement", "registry and database disagree"
    TEST = "test", "test event"


class WebhookEndpoint(models.Model):
    """A receiver of signed JSON alerts; `events` empty means every kind."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, help_text="HMAC-SHA256 key shared with the receiver")
    events = models.JSONField(default=list, blank=True, help_text="kinds to send; empty = all")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [("manage_alerts", "Can manage alert endpoints and subscriptions")]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    def wants(self, kind: str) -> bool:
        return self.is_active and (not self.events or kind in self.events or kind == Kind.TEST)


class EmailSubscription(models.Model):
    """An address that receives alert e-mail; `events` empty means every kind."""

    address = models.EmailField()
    events = models.JSONField(default=list, blank=True, help_text="kinds to send; empty = all")
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.address

    def wants(self, kind: str) -> bool:
        return self.is_active and (not self.events or kind in self.events)


class AlertEvent(models.Model):
    """One thing worth telling people about; `dedupe_key` keeps it from being told twice."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=40, choices=Kind.choices)
    subject = models.CharField(max_length=200)
    data = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    emailed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}"


class WebhookDelivery(models.Model):
    """One event to one endpoint, attempted until delivered or out of attempts."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event.kind} -> {self.endpoint.name} ({self.status})"


class DeliveryAttempt(models.Model):
    """Every HTTP attempt of a delivery: when, answer code, latency, error."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.FloatField()
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error[:40]}"
