import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.features import LOG_COLUMNS


class InferenceLog(models.Model):
    """One answered prediction, written before the answer is sent. No names, ids or addresses."""

    request_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    model_version = models.PositiveIntegerField(db_index=True)
    batch_id = models.UUIDField(null=True, blank=True, db_index=True)
    pclass = models.PositiveSmallIntegerField()
    sex = models.CharField(max_length=6)
    age = models.FloatField(null=True, blank=True)
    sibsp = models.PositiveSmallIntegerField()
    parch = models.PositiveSmallIntegerField()
    fare = models.FloatField(null=True, blank=True)
    embarked = models.CharField(max_length=1, null=True, blank=True)  # noqa: DJ001 (NULL = missing)
    prob_survive = models.FloatField()
    label = models.PositiveSmallIntegerField()
    latency_ms = models.FloatField()
    true_label = models.PositiveSmallIntegerField(null=True, blank=True)
    labelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("label_inferencelog", "Can label predictions"),
            ("reload_champion", "Can reload the serving champion"),
        ]
        indexes = [models.Index(fields=["model_version", "created_at"])]

    def __str__(self) -> str:
        return f"inference {self.request_id} v{self.model_version} p={self.prob_survive:.3f}"

    def features(self) -> dict[str, object]:
        """The request's features keyed by their API names."""
        return {name: getattr(self, column) for name, column in LOG_COLUMNS.items()}


class LabelProvenance(models.Model):
    """Who gave a logged prediction its true label, how and when (apart from the log itself)."""

    # related_name "+": the log's own fields stay the passengers' features and the answer.
    inference = models.OneToOneField(InferenceLog, on_delete=models.CASCADE, related_name="+")
    # SET_NULL keeps the record when the account goes; labelled_by_name keeps who it was.
    labelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    labelled_by_name = models.CharField(max_length=150)
    # How the labeller was authenticated: "token", "session" or "basic".
    labelled_via = models.CharField(max_length=16)
    labelled_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"label of inference {self.inference_id} by {self.labelled_by_name}"


class ThrottleCounter(models.Model):
    """Requests of one client in one fixed window, shared by every web process."""

    ident = models.CharField(max_length=64)
    window = models.BigIntegerField(db_index=True)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ident", "window"], name="one_counter_per_window")
        ]

    def __str__(self) -> str:
        return f"{self.ident} @ {self.window}: {self.count}"


class InferenceArchive(models.Model):
    """One Parquet file of inference rows past the retention, removed from the hot table."""

    day = models.DateField(db_index=True)
    # Relative to VAR_DIR: var/archive/inference/day=YYYY-MM-DD/part-<first>-<last>.parquet
    path = models.CharField(max_length=300, unique=True)
    rows = models.PositiveIntegerField()
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "-first_id"]

    def __str__(self) -> str:
        return f"inference archive {self.day} ids {self.first_id}-{self.last_id} ({self.rows} rows)"
