from django.db import models


class DataVersion(models.Model):
    """One immutable version of the training data, tracked by DVC under its md5."""

    md5 = models.CharField(max_length=32, unique=True)
    size_bytes = models.PositiveBigIntegerField()
    rows = models.PositiveIntegerField()
    positives = models.PositiveIntegerField(help_text="rows with Survived = 1")
    columns = models.JSONField(default=list)
    missing = models.JSONField(default=dict, help_text="missing values per required column")
    summary = models.JSONField(default=dict, help_text="per-column statistics")
    source = models.CharField(max_length=500)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    labelled_rows_added = models.PositiveIntegerField(
        default=0, help_text="inference rows with true labels appended to the parent's data"
    )
    is_current = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"],
                condition=models.Q(is_current=True),
                name="one_current_data_version",
            )
        ]

    def __str__(self) -> str:
        return f"data v{self.pk} ({self.md5[:8]}, {self.rows} rows)"

    @property
    def positive_rate(self) -> float:
        return self.positives / self.rows if self.rows else 0.0


class TrainingRun(models.Model):
    """One training job: a grid search over model families on one data version."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        CLI = "cli"
        DASHBOARD = "dashboard"
        API = "api"
        DRIFT = "drift"
        BOOTSTRAP = "bootstrap"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # True while queued or running, NULL afterwards: a partial unique index on it is the
    # database-level guard that lets only one job be active across all processes.
    active = models.BooleanField(null=True, default=True, editable=False)
    profile = models.CharField(max_length=20)
    families = models.JSONField(default=list)
    data_version = models.ForeignKey(DataVersion, on_delete=models.PROTECT, related_name="runs")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.CLI)
    requested_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mlflow_parent_run_id = models.CharField(max_length=64, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=dict, blank=True, help_text="per-family results")
    best_family = models.CharField(max_length=10, blank=True)
    best_eval_auc = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=models.Q(active=True), name="one_active_training_run"
            )
        ]

    def __str__(self) -> str:
        return f"training run {self.pk} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or self.heartbeat_at or self.started_at
        return (end - self.started_at).total_seconds()
