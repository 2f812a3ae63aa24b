"""The bin rule of feature profiles: deciles and levels, plus OTHER and MISSING (pure Python).

Training uses it to profile the rows a model version learnt from; drift monitoring compares
windows of live traffic with that profile. Pure numpy + stdlib.

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
from typing import Any, Literal, NotRequired, TypedDict

import numpy as np

from apps.core.features import DRIFT_NUMERIC_FEATURES, FEATURES

BASELINE_SCHEMA = 1
OTHER = "OTHER"
MISSING = "MISSING"


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


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _level_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def numeric_labels(edges: list[float]) -> list[str]:
    """Bin labels of a numeric feature with interior cut points `edges` (MISSING last)."""
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
        labels=numeric_labels(edges),
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
    numeric: Collection[str] = DRIFT_NUMERIC_FEATURES,
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
