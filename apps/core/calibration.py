"""Applying a version's stored probability calibration (Platt's sigmoid), numpy only.

Training fits the two numbers with scikit-learn on the version's evaluation rows; every other
process applies them here, so neither the web process nor the worker ever imports scikit-learn.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

# Scores of exactly 0 or 1 would make an infinite logit; the clip is far below any real score gap.
_EPS = 1e-12


def score_logit(scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The logit of the scores, the scale the sigmoid calibration is fitted on."""
    values = np.clip(np.asarray(scores, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(values) - np.log1p(-values)


def calibrate(calibration: Mapping[str, Any], scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Calibrated P(survived) of raw scores: 1 / (1 + exp(a * logit(score) + b))."""
    if calibration.get("method") != "sigmoid":
        raise ValueError(f"unknown calibration method {calibration.get('method')!r}")
    margin = float(calibration["a"]) * score_logit(scores) + float(calibration["b"])
    # exp of a large positive margin overflows to inf, which still gives the right limit 0.
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(margin))
