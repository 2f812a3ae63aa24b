"""Drift baselines: each model version's feature profile, and PSI noise floors cached per size."""

from django.db import IntegrityError, transaction

from apps.monitoring import psi
from apps.monitoring.models import DriftBaseline, NoiseFloor
from apps.training.models import ModelVersion


def drift_baseline_for(model_version: ModelVersion) -> DriftBaseline | None:
    """The version's baseline, taken from the profile training recorded; None without one."""
    found = DriftBaseline.objects.filter(model_version=model_version).first()
    profile = model_version.feature_profile
    if found is not None or not profile:
        return found
    try:
        with transaction.atomic():
            return DriftBaseline.objects.create(
                model_version=model_version, baseline=profile, rows=int(profile["n_rows"])
            )
    except IntegrityError:  # a concurrent check created it first
        return DriftBaseline.objects.get(model_version=model_version)


def noise_floors_for(baseline: DriftBaseline, rows: int) -> dict[str, float]:
    """Per-feature PSI floors of drift-free windows of `rows` rows (simulated once, then cached)."""
    cached = NoiseFloor.objects.filter(baseline=baseline, window_rows=rows).first()
    if cached:
        stored: dict[str, float] = cached.floors
        return stored
    floors = {
        name: float(value) for name, value in psi.noise_floors(baseline.baseline, rows).items()
    }
    NoiseFloor.objects.get_or_create(
        baseline=baseline, window_rows=rows, defaults={"floors": floors}
    )
    return floors
