"""Reads of data versions."""

from apps.training.models import DataVersion


def data_version_current() -> DataVersion | None:
    """The data version that training uses by default."""
    return DataVersion.objects.filter(is_current=True).first()


def data_version_get(data_version_id: int) -> DataVersion | None:
    return DataVersion.objects.select_related("parent").filter(pk=data_version_id).first()


def data_version_children(data_version: DataVersion) -> list[DataVersion]:
    return list(DataVersion.objects.filter(parent=data_version))
