"""A version's probability calibration and score profile, fitted on its own evaluation rows.

Method: Platt's sigmoid (scikit-learn's `CalibratedClassifierCV(method="sigmoid")` on the logit of
the frozen scorer's probability). On 145 evaluation rows isotonic regression fits a step function
with a few dozen steps that chases the noise of the split; the two-parameter sigmoid is smoother
and calibrates better out of sample at this size (measured in `bench/calibration_choice.py`).
scikit-learn is imported inside the fit only: registration runs in the worker, and every other
process applies the stored `a`, `b` with `apps.core.calibration` (numpy).
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from apps.core import bins
from apps.core.calibration import score_logit
from apps.training.models import ModelVersion

SCORE = "score"


def calibration_fit(*, scores: Sequence[float], labels: Sequence[int]) -> dict[str, Any]:
    """Platt's a, b fitted on (score, label) pairs, as plain JSON data."""
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    class _Logit(ClassifierMixin, BaseEstimator):
        """The already-trained scorer, seen by scikit-learn as a frozen decision function."""

        def fit(self, features: np.ndarray, target: np.ndarray) -> "_Logit":
            self.classes_ = np.array([0, 1])
            return self

        def decision_function(self, features: np.ndarray) -> np.ndarray:
            return np.asarray(features)[:, 0]

        def predict(self, features: np.ndarray) -> np.ndarray:
            return (self.decision_function(features) > 0).astype(int)

    target = np.asarray(labels, dtype=int)
    features = score_logit(scores)[:, None]
    frozen = FrozenEstimator(_Logit().fit(features, target))
    fitted = CalibratedClassifierCV(frozen, method="sigmoid").fit(features, target)
    sigmoid = fitted.calibrated_classifiers_[0].calibrators[0]
    a, b = float(sigmoid.a_), float(sigmoid.b_)
    return {
        "method": "sigmoid",
        "a": a,
        "b": b,
        "cov": _parameter_covariance(features[:, 0], a, b),
        "n_rows": int(target.size),
        "positives": int(target.sum()),
    }


def _parameter_covariance(logits: np.ndarray, a: float, b: float) -> list[list[float]]:
    """Inverse Fisher information of (a, b): how far 145 rows leave the fit uncertain."""
    p = 1.0 / (1.0 + np.exp(a * logits + b))
    design = np.column_stack([logits, np.ones_like(logits)])
    information = design.T @ (design * (p * (1.0 - p))[:, None])
    # A degenerate split (all one score) has no information on a: pinv keeps it finite.
    return [[float(v) for v in row] for row in np.linalg.pinv(information)]


def score_profile(scores: Sequence[float]) -> bins.Baseline:
    """Deciles of the evaluation scores: prediction drift compares live scores with these."""
    return bins.build_baseline({SCORE: [float(s) for s in scores]}, numeric={SCORE})


def calibration_record(
    *, model_version: ModelVersion, scores: Sequence[float], labels: Sequence[int]
) -> None:
    """Store the version's calibration and evaluation-score profile beside its metrics."""
    try:
        fitted = calibration_fit(scores=scores, labels=labels)
    except ValueError as exc:
        # Only foresight needs it (e.g. one class in the split): the version stays registrable,
        # and monitoring says why it cannot estimate.
        fitted = {"error": f"calibration failed: {exc}"}
    model_version.calibration = {**fitted, "score_profile": score_profile(scores)}
    model_version.save(update_fields=["calibration"])
