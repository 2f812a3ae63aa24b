"""Reads of the frozen reference holdout."""

from typing import Any

from apps.training.models import DataVersion, ReferenceHoldout


def reference_holdout_active() -> ReferenceHoldout | None:
    """The holdout in force (the gate scores every candidate and the champion on it)."""
    return ReferenceHoldout.objects.select_related("data_version").filter(is_active=True).first()


def holdout_rows_to_exclude(*, data_version: DataVersion) -> list[dict[str, Any]]:
    """Rows a job on `data_version` must not train on: none on the holdout's own version."""
    holdout = reference_holdout_active()
    if holdout is None or holdout.data_version_id == data_version.pk:
        # On its own data version the fixed evaluation split is the holdout: never trained on.
        return []
    return list(holdout.rows)
