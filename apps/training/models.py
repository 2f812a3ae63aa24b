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
    sources = models.JSONField(
        default=list,
        blank=True,
        help_text="where appended rows came from: one entry per labeller (count, label balance)",
    )
    is_current = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        # The dashboard shell has no models; its one permission lives with the data it shows.
        permissions = [("view_dashboard", "Can view the dashboard")]
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
    phase = models.CharField(max_length=120, blank=True, help_text="what the job is doing now")
    # Profile, families and grid as trained: the same data with the same hash changes nothing.
    params_sha256 = models.CharField(max_length=64, blank=True)
    processed_md5 = models.CharField(
        max_length=32, blank=True, help_text="md5 (DVC's hash) of the typed Parquet the job read"
    )
    processed_source = models.CharField(
        max_length=12,
        blank=True,
        choices=[
            ("pipeline", "the DVC pipeline's output"),
            ("regenerated", "written by the job from the CSV"),
        ],
    )
    results = models.JSONField(default=dict, blank=True, help_text="per-family results")
    best_family = models.CharField(max_length=10, blank=True)
    best_eval_auc = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # "host:pid" of the process executing the job: on that host a dead pid means a dead job.
    worker = models.CharField(max_length=200, blank=True)
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


class ModelVersion(models.Model):
    """A registered version of the model (mirrors MLflow's registry, which holds the files)."""

    class Status(models.TextChoices):
        # Half-made: in the database, but scorer, profile or gate evidence may be missing. It can
        # never be promoted, served or monitored; the reaper retires one a crash left behind.
        REGISTERING = "registering", "registering (not complete)"
        CANDIDATE = "candidate", "candidate (awaiting a decision)"
        CHAMPION = "champion"
        REJECTED = "rejected"
        RETIRED = "retired", "retired (was champion)"
        ROLLED_BACK = "rolled_back", "rolled back"

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    training_run = models.ForeignKey(TrainingRun, on_delete=models.PROTECT, related_name="+")
    data_version = models.ForeignKey(DataVersion, on_delete=models.PROTECT, related_name="+")
    family = models.CharField(max_length=10)
    mlflow_run_id = models.CharField(max_length=64)
    model_uri = models.CharField(max_length=500)
    scorer_uri = models.CharField(max_length=500)
    scorer_sha256 = models.CharField(max_length=64)
    best_params = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict, help_text="evaluation metrics on the fixed split")
    gate_evidence = models.JSONField(default=dict, blank=True)
    # The binned training rows (apps.core.bins): what drift monitoring compares traffic with.
    feature_profile = models.JSONField(default=dict, blank=True)
    # Platt's a, b and the evaluation-score deciles (apps.training.calibration): what estimated
    # performance and prediction drift read, applied with numpy alone.
    calibration = models.JSONField(default=dict, blank=True)
    # Scores on the frozen reference holdout: comparable across versions trained on other data.
    holdout = models.ForeignKey(
        "ReferenceHoldout", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    holdout_evaluation = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CANDIDATE)
    # NULL unless champion: the partial unique index keeps exactly one champion.
    is_champion = models.BooleanField(null=True, default=None, editable=False)
    champion_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        permissions = [("approve_modelversion", "Can approve, reject and roll back promotions")]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="unique_model_version"),
            models.UniqueConstraint(
                fields=["is_champion"], condition=models.Q(is_champion=True), name="one_champion"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.family}, {self.status})"

    @property
    def eval_auc(self) -> float | None:
        value = self.metrics.get("eval_auc")
        return float(value) if value is not None else None


class PromotionRequest(models.Model):
    """A candidate that passed the gate and waits for a person's approval."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"
        SUPERSEDED = "superseded"

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="requests"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    evidence = models.JSONField(default=dict)
    # The latest shadow replay of the candidate on logged traffic (written by monitoring).
    shadow = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"promotion request for v{self.model_version.version} ({self.status})"


class PromotionEvent(models.Model):
    """The audit trail: every promotion, rejection and rollback, with who, why and evidence."""

    class Action(models.TextChoices):
        PROMOTE = "promote"
        REJECT = "reject"
        ROLLBACK = "rollback"
        AWAIT = "await", "await approval"

    class Reason(models.TextChoices):
        AUTO = "auto"
        APPROVAL = "approval"
        DRIFT_RETRAIN = "drift_retrain", "drift retrain"
        ROLLBACK = "rollback"
        MANUAL = "manual"
        GATE = "gate"

    action = models.CharField(max_length=10, choices=Action.choices)
    reason = models.CharField(max_length=15, choices=Reason.choices)
    actor = models.CharField(max_length=150, help_text="user name, or 'gate' / 'system'")
    from_version = models.PositiveIntegerField(null=True, blank=True)
    to_version = models.PositiveIntegerField(null=True, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.from_version} -> {self.to_version} ({self.reason})"


class ReferenceHoldout(models.Model):
    """Frozen evaluation rows no later version trains on; every version is scored on them."""

    class Origin(models.TextChoices):
        FIRST_VERSION = "first_version", "evaluation split of the first accepted data version"
        OPERATOR = "operator", "designated by an operator"

    data_version = models.ForeignKey(DataVersion, on_delete=models.PROTECT, related_name="+")
    origin = models.CharField(max_length=15, choices=Origin.choices)
    designated_by = models.CharField(max_length=150, blank=True)
    # The rows (seven features + Survived) and their content keys (apps.training.holdout).
    rows = models.JSONField(default=list)
    row_keys = models.JSONField(default=list)
    n_rows = models.PositiveIntegerField()
    n_positives = models.PositiveIntegerField()
    # NULL unless active: the partial unique index keeps exactly one holdout in force.
    is_active = models.BooleanField(null=True, default=None, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=models.Q(is_active=True), name="one_active_holdout"
            )
        ]

    def __str__(self) -> str:
        return f"frozen holdout: {self.n_rows} rows from data v{self.data_version_id}"
