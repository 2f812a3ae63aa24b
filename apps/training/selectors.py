from apps.training.models import DataVersion


def data_version_current() -> DataVersion | None:
    """The data version that training uses by default."""
    return DataVersion.objects.filter(is_current=True).first()


def data_version_list() -> list[DataVersion]:
    return list(DataVersion.objects.all())
