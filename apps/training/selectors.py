from apps.training.models import DataVersion, ModelVersion, PromotionEvent, PromotionRequest


def data_version_current() -> DataVersion | None:
    """The data version that training uses by default."""
    return DataVersion.objects.filter(is_current=True).first()


def data_version_list() -> list[DataVersion]:
    return list(DataVersion.objects.all())


def model_version_champion() -> ModelVersion | None:
    """The version serving traffic, from the database (cheap: one indexed row)."""
    return ModelVersion.objects.filter(is_champion=True).first()


def model_version_previous_champion() -> ModelVersion | None:
    """The most recent earlier champion still eligible to serve again (retired, not rolled back)."""
    moves = PromotionEvent.objects.filter(
        action__in=[PromotionEvent.Action.PROMOTE, PromotionEvent.Action.ROLLBACK],
        from_version__isnull=False,
    ).order_by("-id")
    for event in moves:
        candidate = ModelVersion.objects.filter(
            version=event.from_version, status=ModelVersion.Status.RETIRED
        ).first()
        if candidate is not None:
            return candidate
    return None


def model_version_pending() -> list[ModelVersion]:
    return list(
        ModelVersion.objects.filter(requests__status=PromotionRequest.Status.PENDING).distinct()
    )
