"""Drift monitoring's numeric core: baselines, binning, PSI, noise floors and the verdict.

Pure numpy + stdlib so the same code runs in the web process, a worker or a notebook.

Bin rule (the SQL aggregation must reproduce it exactly; `bin_index` is the reference):

* Numeric feature with interior cut points `edges = [e0, ..., e(k-1)]` (sorted, distinct) has
  k + 2 bins: bin 0 holds x <= e0; bin i (1 <= i < k) holds e(i-1) < x <= e(i); bin k holds
  x > e(k-1); bin k + 1 is MISSING (NULL or NaN). With no edges, bin 0 holds every present value.
  In SQL: ``CASE WHEN x IS NULL THEN k+1 WHEN x <= e0 THEN 0 ... WHEN x <= e(k-1) THEN k-1
  ELSE k END``, edges written with Python's ``repr`` so the doubles compare identically.
* Categorical feature with training levels `levels = [l0, ..., l(m-1)]` (strings) has m + 2 bins:
  bin j holds values whose text is l(j); bin m is OTHER (any other present value); bin m + 1 is
  MISSING. A value's text is ``str(value)``, except integral floats drop the ``.0`` (1.0 -> "1"),
  so Pclass matches as 1, 1.0 or "1"; in SQL ``CAST(x AS TEXT)`` of an integer column.

Numeric edges are the distinct training deciles (``inverted_cdf``, so every edge is an observed
value). Open outer bins are implicit, which keeps the baseline standard JSON (no Infinity/NaN).
"""

import bisect
import itertools
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

import numpy as np

FEATURES = ("Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked")
NUMERIC_FEATURES = ("Age", "SibSp", "Parch", "Fare")
BASELINE_SCHEMA = 1
OTHER = "OTHER"
MISSING = "MISSING"

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


class FeatureBaseline(TypedDict):
    kind: Literal["numeric", "categorical"]
    edges: NotRequired[list[float]]
    levels: NotRequired[list[str]]
    labels: list[str]
    counts: list[int]
    proportions: list[float]
    n_rows: int


class Baseline(TypedDict):
    schema: int
    n_rows: int
    features: dict[str, FeatureBaseline]


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


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _level_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _numeric_labels(edges: list[float]) -> list[str]:
    if not edges:
        return ["all", MISSING]
    inner = [f"({low:g}, {high:g}]" for low, high in itertools.pairwise(edges)]
    return [f"<= {edges[0]:g}", *inner, f"> {edges[-1]:g}", MISSING]


def _with_counts(feature: FeatureBaseline, values: Sequence[Any]) -> FeatureBaseline:
    counts = bin_counts(feature, values)
    n_rows = len(values)
    feature["counts"] = [int(count) for count in counts]
    feature["proportions"] = [float(count) / n_rows for count in counts]
    feature["n_rows"] = n_rows
    return feature


def _numeric_baseline(values: Sequence[Any], quantile_bins: int) -> FeatureBaseline:
    present = np.array([float(v) for v in values if not _is_missing(v)], dtype=float)
    edges: list[float] = []
    if present.size:
        cuts = np.quantile(
            present, np.arange(1, quantile_bins) / quantile_bins, method="inverted_cdf"
        )
        edges = [float(edge) for edge in np.unique(cuts)]
    feature = FeatureBaseline(
        kind="numeric",
        edges=edges,
        labels=_numeric_labels(edges),
        counts=[],
        proportions=[],
        n_rows=0,
    )
    return _with_counts(feature, values)


def _categorical_baseline(values: Sequence[Any]) -> FeatureBaseline:
    levels = sorted({_level_text(v) for v in values if not _is_missing(v)})
    feature = FeatureBaseline(
        kind="categorical",
        levels=levels,
        labels=[*levels, OTHER, MISSING],
        counts=[],
        proportions=[],
        n_rows=0,
    )
    return _with_counts(feature, values)


def build_baseline(
    columns: Mapping[str, Sequence[Any]],
    *,
    numeric: Collection[str] = NUMERIC_FEATURES,
    quantile_bins: int = 10,
) -> Baseline:
    """Bin training columns into a baseline: `numeric` names by deciles, the rest by level."""
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(
            f"columns must be non-empty and equally long, got lengths {sorted(lengths)}"
        )
    features = {
        name: _numeric_baseline(values, quantile_bins)
        if name in numeric
        else _categorical_baseline(values)
        for name, values in columns.items()
    }
    return Baseline(schema=BASELINE_SCHEMA, n_rows=lengths.pop(), features=features)


def rows_to_columns(
    rows: Sequence[Mapping[str, Any]], features: Sequence[str] = FEATURES
) -> dict[str, list[Any]]:
    """Turn row dicts into the column mapping `build_baseline` and `window_counts` take."""
    return {name: [row.get(name) for row in rows] for name in features}


def bin_count(feature: FeatureBaseline) -> int:
    """Number of bins of a feature, MISSING (and OTHER) included."""
    if feature["kind"] == "numeric":
        return len(feature["edges"]) + 2
    return len(feature["levels"]) + 2


def bin_index(feature: FeatureBaseline, value: Any) -> int:
    """Bin of one value under the module's bin rule (the reference for the SQL CASE WHEN)."""
    if feature["kind"] == "numeric":
        edges = feature["edges"]
        if _is_missing(value):
            return len(edges) + 1
        # bisect_left returns the first i with edges[i] >= x, i.e. edges[i-1] < x <= edges[i].
        return bisect.bisect_left(edges, float(value))
    levels = feature["levels"]
    if _is_missing(value):
        return len(levels) + 1
    text = _level_text(value)
    return levels.index(text) if text in levels else len(levels)


def bin_indices(feature: FeatureBaseline, values: Sequence[Any]) -> np.ndarray:
    """Bin of every value, vectorised for numeric features; same rule as `bin_index`."""
    if feature["kind"] != "numeric":
        return np.array([bin_index(feature, value) for value in values], dtype=np.int64)
    edges = np.asarray(feature["edges"], dtype=float)
    data = np.array([np.nan if value is None else float(value) for value in values], dtype=float)
    indices = np.searchsorted(edges, data, side="left")
    indices[np.isnan(data)] = edges.size + 1
    return indices.astype(np.int64)


def bin_counts(feature: FeatureBaseline, values: Sequence[Any]) -> np.ndarray:
    """Count of values per bin, in bin order (MISSING last)."""
    return np.bincount(bin_indices(feature, values), minlength=bin_count(feature))


def window_counts(
    baseline: Baseline, columns: Mapping[str, Sequence[Any]]
) -> dict[str, np.ndarray]:
    """Per-feature bin counts of a window of rows given as columns."""
    return {
        name: bin_counts(feature, columns[name]) for name, feature in baseline["features"].items()
    }


def _proportions(values: np.ndarray | Sequence[float], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array")
    total = array.sum()
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
    return np.sum((a - e) * np.log(a / e), axis=1)


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
        drifted = value >= threshold and value > floors[name]
        results.append(FeatureDrift(name, value, float(floors[name]), drifted))
    drifted = [item for item in results if item.drifted]
    verdict: Verdict = "none"
    if drifted:
        verdict = "critical" if any(item.psi >= critical for item in drifted) else "warning"
    max_psi = max(item.psi for item in results)
    return DriftResult(verdict, n_rows, max_psi, tuple(results), threshold, critical, min_rows)
