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
