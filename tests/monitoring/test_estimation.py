"""Estimated performance without labels: hand-checked figures and the first-class surge.

The surge test resamples the real Titanic rows with their real labels, so P(survived | passenger)
stays as it was and only the mix of passengers moves: the case confidence-based estimation claims.
The champion is the factory's hand-made logistic regression, calibrated with scikit-learn on 145
held-out rows exactly as registration does it.
"""

from typing import Any

import numpy as np
import pytest

from apps.core.calibration import calibrate
from apps.monitoring.estimation import (
    estimated_drop,
    expected_auc,
    expected_figures,
    performance_estimate,
    performance_realised,
)
from apps.portable.scorer import PortableScorer
from apps.training.calibration import calibration_fit
from apps.training.contract import parse_dataset
from apps.training.metrics import class_metrics, roc_auc
from tests.factories import scorer_dict

Row = dict[str, Any]


def test_it_computes_hand_checked_expected_figures() -> None:
    p = np.array([0.9, 0.6, 0.3, 0.2])
    served = np.array([True, True, False, False])
    scores = np.array([0.8, 0.7, 0.4, 0.1])
    figures = expected_figures(p, served, scores)
    # TP = 0.9 + 0.6 = 1.5, FP = 0.1 + 0.4 = 0.5, FN = 0.3 + 0.2 = 0.5, TN = 0.7 + 0.8 = 1.5
    assert figures["accuracy"] == pytest.approx(3.0 / 4)
    assert figures["precision"] == pytest.approx(1.5 / 2.0)
    assert figures["recall"] == pytest.approx(1.5 / 2.0)
    # Pairs (i positive, j negative), i != j, weight p_i (1 - p_j); scores strictly decrease, so
    # the pair counts iff i < j: 0.9*(0.4+0.7+0.8) + 0.6*(0.7+0.8) + 0.3*0.8 = 2.85
    # all pairs: sum p * sum q - sum p q = 2.0 * 2.0 - (0.09 + 0.24 + 0.21 + 0.16) = 3.30
    assert figures["auc"] == pytest.approx(2.85 / 3.30)


def test_it_reduces_to_the_exact_auc_when_probabilities_are_labels() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.uniform(size=200), 2)  # rounding makes ties
    assert expected_auc(labels.astype(float), scores) == pytest.approx(roc_auc(labels, scores))
    realised = performance_realised(labels, scores, (scores > 0.5).astype(int))
    reference = class_metrics(labels, scores)
    assert realised["accuracy"] == pytest.approx(reference["accuracy"])
    assert realised["recall"] == pytest.approx(reference["per_class"]["1"]["recall"])


def test_it_applies_the_stored_sigmoid_like_scikit_learn() -> None:
    rng = np.random.default_rng(5)
    scores = rng.uniform(0.02, 0.98, 145)
    labels = (rng.uniform(size=145) < scores**2).astype(int)
    calibration = calibration_fit(scores=scores, labels=labels)
    # Overconfident scores (truth is p^2): calibration lowers high scores.
    assert calibrate(calibration, [0.8])[0] < 0.8
    logit = np.log(0.3 / 0.7)
    expected = 1 / (1 + np.exp(calibration["a"] * logit + calibration["b"]))
    assert calibrate(calibration, [0.3])[0] == pytest.approx(expected)
    assert np.asarray(calibration["cov"]).shape == (2, 2)


def test_it_reports_a_drop_only_beyond_the_tolerance() -> None:
    estimate = {
        "accuracy": {"value": 0.70},
        "precision": {"value": 0.70},
        "recall": {"value": None},
        "auc": {"value": 0.84},
    }
    reference = {"accuracy": 0.80, "precision": 0.74, "recall": 0.7, "auc": 0.85}
    assert estimated_drop(estimate, reference, 0.05) == pytest.approx({"accuracy": 0.10})


@pytest.fixture(scope="module")
def population(titanic_bytes: bytes) -> list[Row]:
    return parse_dataset(titanic_bytes).rows


def _draw(rng: np.random.Generator, rows: list[Row], n: int, first_class_weight: float) -> list:
    weights = np.array([first_class_weight if r["Pclass"] == 1 else 1.0 for r in rows])
    picks = rng.choice(len(rows), size=n, p=weights / weights.sum())
    return [rows[i] for i in picks]


def test_it_follows_realised_accuracy_through_a_first_class_surge(population: list[Row]) -> None:
    rng = np.random.default_rng(20241117)
    order = rng.permutation(len(population))
    evaluation = [population[i] for i in order[:145]]
    traffic_pool = [population[i] for i in order[145:]]
    scorer = PortableScorer.from_dict(scorer_dict(intercept=0.5))
    eval_scores = scorer.predict_proba(evaluation)
    eval_labels = [r["Survived"] for r in evaluation]
    calibration = calibration_fit(scores=eval_scores, labels=eval_labels)
    eval_accuracy = class_metrics(eval_labels, eval_scores)["accuracy"]

    # 12 stable windows, then the first-class share climbs from ~24% to ~75% over 24 windows.
    weights = [1.0] * 12 + list(np.linspace(1.5, 10.0, 24))
    inside, estimates, realised = 0, [], []
    for weight in weights:
        window = _draw(rng, traffic_pool, 300, weight)
        scores = scorer.predict_proba(window)
        served = (scores > 0.5).astype(int)
        estimate = performance_estimate(calibration, scores, served)["accuracy"]
        # The labels were held back from the estimate; they arrive only now.
        truth = performance_realised([r["Survived"] for r in window], scores, served)["accuracy"]
        inside += estimate["low"] <= truth <= estimate["high"]
        estimates.append(estimate)
        realised.append(truth)

    assert inside / len(weights) >= 0.9
    # The surge really moves accuracy, and the estimate moves with it.
    surge_change = np.mean(realised[-6:]) - np.mean(realised[:12])
    estimate_change = np.mean([e["value"] for e in estimates[-6:]]) - np.mean(
        [e["value"] for e in estimates[:12]]
    )
    assert abs(surge_change) > 0.03
    assert estimate_change == pytest.approx(surge_change, abs=0.03)
    # A stable window's band holds the evaluation-time accuracy.
    stable = estimates[:12]
    assert sum(e["low"] <= eval_accuracy <= e["high"] for e in stable) >= 11


@pytest.mark.django_db
def test_it_keeps_a_version_registrable_when_calibration_cannot_be_fitted(
    settings: Any, tmp_path: Any
) -> None:
    from apps.training.calibration import calibration_record
    from tests.factories import model_version_install

    settings.MODEL_CACHE_DIR = tmp_path
    version = model_version_install(1)
    calibration_record(model_version=version, scores=[0.2, 0.7, 0.9], labels=[1, 1, 1])
    version.refresh_from_db()
    assert "calibration failed" in version.calibration["error"]
    assert version.calibration["score_profile"]["n_rows"] == 3
