from django.db import models


class DriftBaseline(models.Model):
    """Bin edges/levels and training proportions of one model version's training rows."""

    model_version = models.OneToOneField(
        "training.ModelVersion", on_delete=models.CASCADE, related_name="drift_baseline"
    )
    baseline = models.JSONField()
    rows = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"baseline of v{self.model_version.version} ({self.rows} rows)"


class NoiseFloor(models.Model):
    """Per-feature PSI that drift-free windows of `window_rows` rows reach (simulated, cached)."""

    baseline = models.ForeignKey(DriftBaseline, on_delete=models.CASCADE, related_name="floors")
    window_rows = models.PositiveIntegerField()
    floors = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["baseline", "window_rows"], name="one_floor_per_size")
        ]

    def __str__(self) -> str:
        return f"noise floors at {self.window_rows} rows"


class DriftReport(models.Model):
    """One drift check: the window, per-feature PSI against the champion's baseline, verdict."""

    class Verdict(models.TextChoices):
        NONE = "none"
        WARNING = "warning"
        CRITICAL = "critical"
        INSUFFICIENT = "insufficient_data", "insufficient data"
        ERROR = "error"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    rows = models.PositiveIntegerField(default=0)
    model_version = models.PositiveIntegerField(null=True, blank=True)
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    max_psi = models.FloatField(null=True, blank=True)
    features = models.JSONField(default=dict, blank=True, help_text="per-feature PSI and floor")
    thresholds = models.JSONField(default=dict, blank=True)
    # The champion's estimated performance (with band), realised figures where labels arrived,
    # and the drop signal (apps.monitoring.estimation); prediction drift of its scores.
    performance = models.JSONField(default=dict, blank=True)
    prediction = models.JSONField(default=dict, blank=True)
    trigger = models.CharField(max_length=20, default="manual")
    retrain_run = models.ForeignKey(
        "training.TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    retrain_note = models.TextField(blank=True, help_text="why a retrain started or was refused")
    error = models.TextField(blank=True)
    incident = models.ForeignKey(
        "DriftIncident", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"drift report {self.pk}: {self.verdict} ({self.rows} rows)"

    @property
    def drifted(self) -> bool:
        return self.verdict in (self.Verdict.WARNING, self.Verdict.CRITICAL)

    @property
    def checked(self) -> bool:
        """False when no PSI was computed (no row, too few rows, no champion, an error)."""
        return self.max_psi is not None


class DriftIncident(models.Model):
    """A drift being handled: open from a drifted check until resolved or acknowledged.

    A snapshot (the latest report) hides an unresolved drift as soon as a small or clean window
    follows; the incident stays open until a new champion's traffic checks clean, or a person
    acknowledges it with a note.
    """

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved", "resolved (new champion checked clean)"
        ACKNOWLEDGED = "acknowledged"

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(db_index=True)
    opened_by = models.ForeignKey(
        DriftReport, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_version = models.PositiveIntegerField(help_text="the champion whose traffic drifted")
    verdict = models.CharField(
        max_length=20, choices=DriftReport.Verdict.choices, help_text="the worst verdict seen"
    )
    features = models.JSONField(default=list, blank=True, help_text="features that drifted")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by_report = models.ForeignKey(
        DriftReport, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_by = models.CharField(max_length=150, blank=True)
    note = models.TextField(blank=True, help_text="the acknowledgement's note")

    class Meta:
        ordering = ["-opened_at", "-id"]
        permissions = [("acknowledge_driftincident", "Can acknowledge a drift incident")]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="open"),
                name="one_open_drift_incident",
            )
        ]

    def __str__(self) -> str:
        return f"drift incident {self.pk} ({self.status}, v{self.model_version})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class ShadowReplay(models.Model):
    """A candidate and the champion scoring the same recent logged requests, off the live path."""

    candidate_version = models.PositiveIntegerField()
    champion_version = models.PositiveIntegerField(null=True, blank=True)
    promotion_request = models.ForeignKey(
        "training.PromotionRequest",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="shadow_replays",
    )
    rows = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"shadow v{self.candidate_version} vs v{self.champion_version} ({self.rows} rows)"
