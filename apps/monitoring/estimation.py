"""Estimated performance without labels (confidence-based, CBPE-style), pure numpy.

From the calibrated probability p_i of each logged prediction and the label that was served
(`label = score > 0.5`), the expected confusion matrix is TP = sum p over served 1s, FP = sum
(1 - p) over served 1s, FN = sum p over served 0s, TN = sum (1 - p) over served 0s; the expected
AUC weights every ordered pair (i, j) by p_i (1 - p_j). Valid while P(y | x) stays as at
evaluation (covariate shift, e.g. a first-class surge); a change of the concept itself needs labels.

Band (95%, normal approximation), two parts added in variance:
* sampling: given the probabilities, the realised labels are independent Bernoulli draws, so the
  correct count is Poisson-binomial (variance sum p(1 - p)); precision likewise, recall by the
  delta method, AUC by Hanley & McNeil with the expected class sizes;
* calibration: the sigmoid's (a, b) came from ~145 evaluation rows; their covariance (inverse
  Fisher information, stored at registration) is carried through by finite differences.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from apps.core.calibration import calibrate

Z_95 = 1.959963984540054
METRICS = ("accuracy", "precision", "recall", "auc")
_STEP = 1e-4

Array = npt.NDArray[np.float64]


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def expected_auc(probabilities: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """AUC expected when row i is positive with probability p_i; ties count 1/2; O(n log n)."""
    p = np.asarray(probabilities, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    q = 1.0 - p
    order = np.argsort(s, kind="stable")
    sorted_s, cumulative = s[order], np.concatenate([[0.0], np.cumsum(q[order])])
    below = cumulative[np.searchsorted(sorted_s, s, "left")]
    tied = cumulative[np.searchsorted(sorted_s, s, "right")] - below
    self_pairs = float(np.sum(p * q))  # a row is never paired with itself
    numerator = float(np.sum(p * (below + 0.5 * tied))) - 0.5 * self_pairs
    denominator = float(p.sum() * q.sum()) - self_pairs
    return _ratio(numerator, denominator)


def expected_figures(
    probabilities: Array, served: npt.NDArray[np.bool_], scores: Array
) -> dict[str, float | None]:
    """Expected accuracy, precision and recall of class 1 and AUC from calibrated probabilities."""
    p = probabilities
    tp, fp = float(p[served].sum()), float((1.0 - p[served]).sum())
    fn, tn = float(p[~served].sum()), float((1.0 - p[~served]).sum())
    return {
        "accuracy": _ratio(tp + tn, p.size),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "auc": expected_auc(p, scores),
    }


def _sampling_variance(
    p: Array, served: npt.NDArray[np.bool_], figures: Mapping[str, float | None]
) -> dict[str, float]:
    variance = p * (1.0 - p)
    n, n_served = p.size, int(served.sum())
    tp, fn = float(p[served].sum()), float(p[~served].sum())
    var_tp, var_fn = float(variance[served].sum()), float(variance[~served].sum())
    result = {"accuracy": float(variance.sum()) / n**2 if n else 0.0}
    result["precision"] = var_tp / n_served**2 if n_served else 0.0
    positives = tp + fn
    result["recall"] = (fn**2 * var_tp + tp**2 * var_fn) / positives**4 if positives else 0.0
    auc, n1, n0 = figures["auc"], float(p.sum()), float((1.0 - p).sum())
    if auc is None or n1 <= 1 or n0 <= 1:
        result["auc"] = 0.0
    else:
        q1, q2 = auc / (2.0 - auc), 2.0 * auc**2 / (1.0 + auc)
        spread = auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n0 - 1) * (q2 - auc**2)
        result["auc"] = max(spread, 0.0) / (n1 * n0)
    return result


def _calibration_variance(
    calibration: Mapping[str, Any], served: npt.NDArray[np.bool_], scores: Array
) -> dict[str, float]:
    cov = np.asarray(calibration.get("cov") or [[0.0, 0.0], [0.0, 0.0]], dtype=np.float64)
    gradients: dict[str, list[float]] = {name: [] for name in METRICS}
    for key in ("a", "b"):
        up = {**calibration, key: float(calibration[key]) + _STEP}
        down = {**calibration, key: float(calibration[key]) - _STEP}
        high = expected_figures(calibrate(up, scores), served, scores)
        low = expected_figures(calibrate(down, scores), served, scores)
        for name in METRICS:
            h, lo = high[name], low[name]
            gradients[name].append(
                (h - lo) / (2 * _STEP) if h is not None and lo is not None else 0
            )
    return {name: float(np.asarray(g) @ cov @ np.asarray(g)) for name, g in gradients.items()}


def performance_estimate(
    calibration: Mapping[str, Any], scores: npt.ArrayLike, served: npt.ArrayLike
) -> dict[str, Any]:
    """Each metric's estimate with its 95% band, from raw scores and served labels alone."""
    s = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(served, dtype=np.int64) == 1
    p = calibrate(calibration, s)
    figures = expected_figures(p, labels, s)
    sampling = _sampling_variance(p, labels, figures)
    model = _calibration_variance(calibration, labels, s)
    result: dict[str, Any] = {"n_rows": int(s.size)}
    for name in METRICS:
        value = figures[name]
        sd = float(np.sqrt(sampling[name] + model[name]))
        result[name] = {
            "value": value,
            "sd": sd,
            "low": None if value is None else max(0.0, value - Z_95 * sd),
            "high": None if value is None else min(1.0, value + Z_95 * sd),
        }
    return result


def performance_realised(
    labels: npt.ArrayLike, scores: npt.ArrayLike, served: npt.ArrayLike
) -> dict[str, Any]:
    """The same four figures from the labels that have arrived (None where undefined)."""
    y = np.asarray(labels, dtype=np.int64) == 1
    s = np.asarray(scores, dtype=np.float64)
    predicted = np.asarray(served, dtype=np.int64) == 1
    tp, fp = int(np.sum(y & predicted)), int(np.sum(~y & predicted))
    fn, tn = int(np.sum(y & ~predicted)), int(np.sum(~y & ~predicted))
    # The realised AUC is the expected AUC with probabilities that are exactly 0 or 1.
    auc = expected_auc(y.astype(np.float64), s) if 0 < y.sum() < y.size else None
    return {
        "n_labelled": int(y.size),
        "accuracy": _ratio(tp + tn, y.size),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "auc": auc,
    }


def estimated_drop(
    estimate: Mapping[str, Any], reference: Mapping[str, float | None], tolerance: float
) -> dict[str, float]:
    """Metrics whose estimate fell more than `tolerance` below the evaluation-time figure."""
    drops = {}
    for name in METRICS:
        value, before = estimate[name]["value"], reference.get(name)
        if value is not None and before is not None and before - value > tolerance:
            drops[name] = before - value
    return drops
