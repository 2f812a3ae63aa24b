"""Drift monitoring's numeric core: PSI, noise floors and the verdict (pure numpy + stdlib).

The bins themselves (deciles and levels of the training rows, OTHER and MISSING) are the feature
profile's rule in `apps.core.bins`, re-exported here for callers that think in PSI terms.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from apps.core.bins import (
    MISSING,
    OTHER,
    Baseline,
    FeatureBaseline,
    bin_count,
    bin_counts,
    bin_index,
    bin_indices,
    build_baseline,
    rows_to_columns,
    window_counts,
)

__all__ = [
    "MISSING",
    "OTHER",
    "Baseline",
    "DriftResult",
    "FeatureBaseline",
    "FeatureDrift",
    "bin_count",
    "bin_counts",
    "bin_index",
    "bin_indices",
    "build_baseline",
    "drift_evaluate",
    "feature_psi",
    "noise_floors",
    "psi",
    "rows_to_columns",
    "window_counts",
]

# Any window under 10,000 rows has a smallest non-empty proportion above 1e-4, so the floor only
# ever lifts truly empty bins. It caps an emptied bin's PSI term at about e * ln(e / 1e-4) (0.69
# for a 10% bin): large enough to flag, finite, and only logarithmically sensitive to the choice.
PSI_FLOOR = 1e-4
PSI_THRESHOLD = 0.2
PSI_CRITICAL = 0.3
MIN_ROWS = 50
FALSE_ALARM_RATE = 0.05
# About 70 drift-free draws land beyond the Bonferroni percentile (99.3%), which keeps the floors'
# seed-to-seed wobble near +-12% for ~30 ms of work; 2,000 would leave only about 14.
NOISE_SIMULATIONS = 10_000
NOISE_SEED = 20240601

Verdict = Literal["insufficient_data", "none", "warning", "critical"]


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    floor: float
    drifted: bool


@dataclass(frozen=True)
class DriftResult:
    verdict: Verdict
    n_rows: int
    max_psi: float | None
    features: tuple[FeatureDrift, ...]
    threshold: float
    critical: float
    min_rows: int

    @property
    def drifted_features(self) -> tuple[str, ...]:
        """Names of the features that crossed both the threshold and their noise floor."""
        return tuple(item.feature for item in self.features if item.drifted)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view of the result."""
        return {
            "verdict": self.verdict,
            "n_rows": self.n_rows,
            "max_psi": self.max_psi,
            "threshold": self.threshold,
            "critical": self.critical,
            "min_rows": self.min_rows,
            "drifted_features": list(self.drifted_features),
            "features": {
                item.feature: {"psi": item.psi, "floor": item.floor, "drifted": item.drifted}
                for item in self.features
            },
        }


def _proportions(values: np.ndarray | Sequence[float], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array")
    total = float(array.sum())
    if np.any(array < 0) or not np.isfinite(total) or total <= 0:
        raise ValueError(f"{name} must be non-negative with a positive finite sum")
    return array / total


def psi(
    expected: np.ndarray | Sequence[float],
    actual: np.ndarray | Sequence[float],
    floor: float = PSI_FLOOR,
) -> float:
    """Population stability index of `actual` against `expected` (counts or proportions)."""
    expected_p = _proportions(expected, "expected")
    actual_p = _proportions(actual, "actual")
    if expected_p.shape != actual_p.shape:
        raise ValueError(f"bin counts differ: {expected_p.size} expected vs {actual_p.size} actual")
    e = np.maximum(expected_p, floor)
    a = np.maximum(actual_p, floor)
    return float(np.sum((a - e) * np.log(a / e)))


def feature_psi(
    feature: FeatureBaseline, counts: np.ndarray | Sequence[float], floor: float = PSI_FLOOR
) -> float:
    """PSI of a window's bin counts for one feature against its baseline proportions."""
    return psi(np.asarray(feature["proportions"], dtype=float), counts, floor)


def _simulated_psi(
    proportions: np.ndarray, n_rows: int, n_sims: int, rng: np.random.Generator, floor: float
) -> np.ndarray:
    expected = proportions / proportions.sum()
    e = np.maximum(expected, floor)
    a = np.maximum(rng.multinomial(n_rows, expected, size=n_sims) / n_rows, floor)
    psi: np.ndarray = np.sum((a - e) * np.log(a / e), axis=1)
    return psi


def noise_floors(
    baseline: Baseline,
    n_rows: int,
    *,
    alpha: float = FALSE_ALARM_RATE,
    n_sims: int = NOISE_SIMULATIONS,
    seed: int = NOISE_SEED,
    floor: float = PSI_FLOOR,
) -> dict[str, float]:
    """Per-feature PSI floors that drift-free `n_rows` windows jointly beat with prob. <= alpha."""
    if n_rows < 1 or n_sims < 1:
        raise ValueError("n_rows and n_sims must be positive")
    features = baseline["features"]
    # Bonferroni: each of the k features may false-alarm with alpha / k, so the union of the whole
    # check stays <= alpha whatever the (unsimulated) dependence between features in real traffic.
    level = 1 - alpha / len(features)
    rng = np.random.default_rng(seed)
    floors: dict[str, float] = {}
    for name in sorted(features):
        proportions = np.asarray(features[name]["proportions"], dtype=float)
        simulated = _simulated_psi(proportions, n_rows, n_sims, rng, floor)
        # "higher" picks an attained value; with the strict PSI > floor test, ties stay quiet.
        floors[name] = float(np.quantile(simulated, level, method="higher"))
    return floors


def _window_size(baseline: Baseline, window: Mapping[str, np.ndarray]) -> int:
    sizes = set()
    for name, feature in baseline["features"].items():
        if name not in window:
            raise ValueError(f"window has no counts for feature {name}")
        if window[name].shape != (bin_count(feature),):
            raise ValueError(f"feature {name} needs {bin_count(feature)} bin counts")
        sizes.add(int(window[name].sum()))
    if len(sizes) != 1:
        raise ValueError(f"features count different numbers of rows: {sorted(sizes)}")
    return sizes.pop()


def drift_evaluate(
    baseline: Baseline,
    window_counts: Mapping[str, np.ndarray | Sequence[int]],
    *,
    threshold: float = PSI_THRESHOLD,
    critical: float = PSI_CRITICAL,
    min_rows: int = MIN_ROWS,
    floors: Mapping[str, float] | None = None,
) -> DriftResult:
    """Judge a window: per-feature PSI against threshold and noise floor, then one verdict."""
    window = {name: np.asarray(counts, dtype=np.int64) for name, counts in window_counts.items()}
    n_rows = _window_size(baseline, window)
    if n_rows < min_rows:
        return DriftResult("insufficient_data", n_rows, None, (), threshold, critical, min_rows)
    # Simulating costs milliseconds, so a caller that forgot its cached floors still gets the
    # calibrated check rather than the threshold-only one that false-alarms on small windows.
    floors = noise_floors(baseline, n_rows) if floors is None else floors
    results = []
    for name, feature in baseline["features"].items():
        value = feature_psi(feature, window[name])
        over = value >= threshold and value > floors[name]
        results.append(FeatureDrift(name, value, float(floors[name]), over))
    drifted = [item for item in results if item.drifted]
    verdict: Verdict = "none"
    if drifted:
        verdict = "critical" if any(item.psi >= critical for item in drifted) else "warning"
    max_psi = max(item.psi for item in results)
    return DriftResult(verdict, n_rows, max_psi, tuple(results), threshold, critical, min_rows)
