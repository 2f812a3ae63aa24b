import json
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from apps.training.gate import GatePolicy, gate_evaluate
from apps.training.metrics import auc_difference, class_metrics, roc_auc

Scores = npt.NDArray[np.float64]


def _evaluation_split(seed: int) -> tuple[npt.NDArray[np.int64], Scores, Scores]:
    """145 rows, 55 positives (~38%), two models that share most of their signal."""
    rng = np.random.default_rng(seed)
    y = np.zeros(145, dtype=np.int64)
    y[:55] = 1
    rng.shuffle(y)
    latent = 1.2 * y + rng.normal(size=y.size)
    candidate = 1 / (1 + np.exp(-(latent + 0.5 * rng.normal(size=y.size) - 0.6)))
    champion = 1 / (1 + np.exp(-(latent + 0.5 * rng.normal(size=y.size) - 0.6)))
    return y, candidate, champion


def _psi(x: float, y: float) -> float:
    return 1.0 if x > y else 0.5 if x == y else 0.0


def _delong_reference(y: Any, first: Any, second: Any) -> tuple[float, float]:
    """DeLong et al. (1988) written out from the structural components, O(n^2)."""
    pos = [i for i, label in enumerate(y) if label == 1]
    neg = [j for j, label in enumerate(y) if label == 0]
    m, n = len(pos), len(neg)
    v10 = [[sum(_psi(s[i], s[j]) for j in neg) / n for i in pos] for s in (first, second)]
    v01 = [[sum(_psi(s[i], s[j]) for i in pos) / m for j in neg] for s in (first, second)]
    aucs = [sum(v) / m for v in v10]

    def cov(v: list[list[float]], r: int, s: int, size: int) -> float:
        return sum((v[r][k] - aucs[r]) * (v[s][k] - aucs[s]) for k in range(size)) / (size - 1)

    variance = (cov(v10, 0, 0, m) + cov(v10, 1, 1, m) - 2 * cov(v10, 0, 1, m)) / m + (
        cov(v01, 0, 0, n) + cov(v01, 1, 1, n) - 2 * cov(v01, 0, 1, n)
    ) / n
    return aucs[0] - aucs[1], math.sqrt(variance)


def _assert_plain(value: Any) -> None:
    if isinstance(value, dict):
        assert all(type(key) is str for key in value)
        for item in value.values():
            _assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            _assert_plain(item)
    else:
        assert type(value) in (str, int, float, bool, type(None)), repr(value)


def test_it_computes_auc_of_a_hand_example_without_ties() -> None:
    # Pairs (pos, neg): 0.35 beats 0.1 only; 0.8 beats both -> 3 of 4.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75


def test_it_counts_tied_scores_as_half() -> None:
    # Positives 0.5, 0.9; negatives 0.5, 0.1, 0.5. Pairs won: 0.5 -> 1 + 2 * 1/2; 0.9 -> 3.
    assert roc_auc([1, 0, 0, 1, 0], [0.5, 0.5, 0.1, 0.9, 0.5]) == pytest.approx(5 / 6, abs=1e-15)
    assert roc_auc([1, 0, 1, 0], [0.3, 0.3, 0.3, 0.3]) == 0.5


def test_it_agrees_with_the_trapezoids_over_distinct_thresholds() -> None:
    y = np.array([1, 0, 0, 1, 0, 1, 1, 0])
    scores = np.array([0.9, 0.9, 0.2, 0.6, 0.6, 0.6, 0.1, 0.05])
    fpr, tpr = [0.0], [0.0]
    for threshold in sorted(set(scores), reverse=True):
        predicted = scores >= threshold
        tpr.append(float(np.sum(predicted & (y == 1)) / 4))
        fpr.append(float(np.sum(predicted & (y == 0)) / 4))
    area = sum((fpr[k] - fpr[k - 1]) * (tpr[k] + tpr[k - 1]) / 2 for k in range(1, len(fpr)))
    assert roc_auc(y, scores) == pytest.approx(area, abs=1e-15)


@pytest.mark.parametrize("seed", range(6))
def test_it_matches_sklearn_on_random_data_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=500)
    scores = np.round(rng.random(500) + 0.4 * y, 1 + seed % 3)
    assert abs(roc_auc(y, scores) - roc_auc_score(y, scores)) < 1e-12


def test_it_refuses_a_single_class() -> None:
    with pytest.raises(ValueError, match=r"each class, got 0 positive\(s\) and 3 negative"):
        roc_auc([0, 0, 0], [0.1, 0.2, 0.3])


def test_it_refuses_lengths_that_differ() -> None:
    with pytest.raises(ValueError, match="scores has 3 values but y_true has 4"):
        roc_auc([0, 1, 0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="champion_scores has 2 values but y_true has 4"):
        auc_difference([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2])


def test_it_refuses_labels_other_than_zero_and_one() -> None:
    with pytest.raises(ValueError, match="only 0 and 1"):
        roc_auc([0, 1, 2], [0.1, 0.2, 0.3])


def test_it_needs_two_rows_of_each_class_for_the_standard_error() -> None:
    with pytest.raises(ValueError, match="at least 2 row"):
        auc_difference([0, 0, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1])


@pytest.mark.parametrize("seed", range(4))
def test_it_matches_a_textbook_delong_reference(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    y = rng.integers(0, 2, size=60)
    shared = rng.normal(size=60) + y
    # Rounding creates ties within and across classes, the case the 1/2 counting is for.
    first = np.round(shared + 0.6 * rng.normal(size=60), 1)
    second = np.round(shared + 0.6 * rng.normal(size=60), 1)
    expected_delta, expected_se = _delong_reference(y, first, second)
    result = auc_difference(y, first, second)
    assert result.delta == pytest.approx(expected_delta, abs=1e-12)
    assert result.se == pytest.approx(expected_se, rel=1e-10)
    assert result.candidate_auc == roc_auc(y, first)
    assert result.champion_auc == roc_auc(y, second)


def test_it_gives_a_standard_error_of_the_expected_size_on_145_rows() -> None:
    y, candidate, champion = _evaluation_split(seed=1)
    result = auc_difference(y, candidate, champion)
    assert (result.n_rows, result.n_positives) == (145, 55)
    assert 0.01 < result.se < 0.05


def test_it_derives_interval_and_p_value_from_the_normal_distribution() -> None:
    y, candidate, champion = _evaluation_split(seed=3)
    result = auc_difference(y, candidate, champion)
    assert result.z == pytest.approx(result.delta / result.se, rel=1e-12)
    assert result.p_value == pytest.approx(2 * norm.sf(abs(result.z)), rel=1e-12)
    half_width = norm.ppf(0.975) * result.se
    assert result.ci_low == pytest.approx(result.delta - half_width, abs=1e-14)
    assert result.ci_high == pytest.approx(result.delta + half_width, abs=1e-14)


def test_it_reports_an_exact_zero_difference_for_identical_models() -> None:
    y, candidate, _ = _evaluation_split(seed=1)
    result = auc_difference(y, candidate, candidate)
    assert (result.delta, result.se, result.z, result.p_value) == (0.0, 0.0, None, 1.0)


def test_it_computes_class_metrics_of_a_hand_example() -> None:
    # Predicted 1 iff score > 0.5, so the positive at exactly 0.5 is a false negative.
    y = [1, 1, 1, 0, 0, 0, 0]
    scores = [0.9, 0.5, 0.6, 0.51, 0.2, 0.5, 0.1]
    metrics = class_metrics(y, scores)
    assert metrics["confusion_matrix"] == [[3, 1], [1, 2]]
    assert metrics["accuracy"] == pytest.approx(5 / 7)
    assert metrics["per_class"]["1"] == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3}
    )
    assert metrics["per_class"]["0"] == pytest.approx(
        {"precision": 3 / 4, "recall": 3 / 4, "f1": 3 / 4, "support": 4}
    )


def test_it_gives_zero_on_zero_division() -> None:
    nothing_predicted = class_metrics([1, 0, 1, 0], [0.1, 0.2, 0.3, 0.4])
    assert nothing_predicted["per_class"]["1"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 2,
    }
    assert nothing_predicted["per_class"]["0"]["precision"] == 0.5
    no_positives = class_metrics([0, 0], [0.9, 0.1])
    assert no_positives["per_class"]["1"]["recall"] == 0.0
    assert no_positives["confusion_matrix"] == [[1, 1], [0, 0]]


def test_it_honours_a_custom_threshold() -> None:
    metrics = class_metrics([0, 1, 1], [0.2, 0.3, 0.8], threshold=0.25)
    assert metrics["confusion_matrix"] == [[1, 0], [0, 2]]
    assert metrics["threshold"] == 0.25


def test_it_passes_a_lone_candidate_at_min_auc_and_fails_it_below() -> None:
    y, scores = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    at_floor = gate_evaluate(y_true=y, candidate_scores=scores, policy=GatePolicy(min_auc=0.75))
    assert at_floor.passed
    assert at_floor.reasons == (
        "PASS candidate AUC 0.7500 >= min_auc 0.7500 (no champion to compare with)",
    )
    below = gate_evaluate(y_true=y, candidate_scores=scores, policy=GatePolicy(min_auc=0.76))
    assert not below.passed
    assert below.reasons[0].startswith("FAIL candidate AUC 0.7500 < min_auc 0.7600")
    assert below.champion_auc is None and below.difference is None


def test_it_fails_a_better_auc_with_a_recall_drop_beyond_tolerance() -> None:
    y, candidate, champion = _evaluation_split(seed=1)
    # A monotone shift keeps the ranking (and AUC) but pushes positives under the 0.5 threshold.
    shifted = 1 / (1 + np.exp(-(np.log(candidate / (1 - candidate)) - 1.0)))
    verdict = gate_evaluate(
        y_true=y, candidate_scores=shifted, champion_scores=champion, policy=GatePolicy()
    )
    assert verdict.difference is not None and verdict.difference.delta >= 0.005
    assert verdict.reasons[0].startswith("PASS AUC gain")
    assert not verdict.passed
    assert any(r.startswith("FAIL class 1 recall dropped by") for r in verdict.reasons)
    assert verdict.class_drops is not None and verdict.class_drops["1"]["recall"] > 0.02


def test_it_fails_a_gain_below_min_auc_delta() -> None:
    y, _, champion = _evaluation_split(seed=1)
    verdict = gate_evaluate(
        y_true=y, candidate_scores=champion, champion_scores=champion, policy=GatePolicy()
    )
    assert not verdict.passed
    assert verdict.reasons[0].startswith("FAIL AUC gain +0.0000 < min_auc_delta 0.0050")
    assert verdict.reasons[1].startswith("PASS no per-class")


def test_it_passes_a_better_candidate_and_notes_when_the_gain_is_within_noise() -> None:
    y, candidate, champion = _evaluation_split(seed=1)
    verdict = gate_evaluate(
        y_true=y, candidate_scores=candidate, champion_scores=champion, policy=GatePolicy()
    )
    assert verdict.passed
    assert [r[:4] for r in verdict.reasons] == ["PASS", "PASS"]
    assert verdict.difference is not None
    assert verdict.difference.delta < 2 * verdict.difference.se
    assert len(verdict.notes) == 1
    assert "not distinguishable from noise on this split" in verdict.notes[0]


def test_it_leaves_out_the_noise_note_when_the_gain_is_clear() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, size=400)
    candidate = 1 / (1 + np.exp(-(3 * (y - 0.5) + rng.normal(size=400))))
    champion = 1 / (1 + np.exp(-(0.5 * (y - 0.5) + rng.normal(size=400))))
    verdict = gate_evaluate(
        y_true=y, candidate_scores=candidate, champion_scores=champion, policy=GatePolicy()
    )
    assert verdict.difference is not None
    assert verdict.difference.ci_low > 0
    assert verdict.notes == ()


def test_it_does_not_let_float_rounding_fail_a_gain_exactly_at_the_threshold() -> None:
    y = [1, 1, 0, 0, 0, 0, 0]
    negatives = [0.1, 0.2, 0.3, 0.4, 0.5]
    candidate = [0.45, 0.35, *negatives]  # 7 of 10 pairs
    champion = [0.35, 0.35, *negatives]  # 6 of 10 pairs; 0.7 - 0.6 rounds below 0.1
    verdict = gate_evaluate(
        y_true=y,
        candidate_scores=candidate,
        champion_scores=champion,
        policy=GatePolicy(min_auc_delta=0.1),
    )
    assert verdict.difference is not None and verdict.difference.delta < 0.1
    assert verdict.passed


def test_it_respects_changed_policy_values() -> None:
    y, candidate, champion = _evaluation_split(seed=1)
    shifted = 1 / (1 + np.exp(-(np.log(candidate / (1 - candidate)) - 1.0)))
    lenient = GatePolicy(min_auc_delta=0.0, max_class_drop=1.0)
    assert gate_evaluate(
        y_true=y, candidate_scores=shifted, champion_scores=champion, policy=lenient
    ).passed
    assert gate_evaluate(
        y_true=y, candidate_scores=champion, champion_scores=champion, policy=lenient
    ).passed
    strict = GatePolicy(min_auc_delta=0.05)
    verdict = gate_evaluate(
        y_true=y, candidate_scores=candidate, champion_scores=champion, policy=strict
    )
    assert not verdict.passed
    assert "min_auc_delta 0.0500" in verdict.reasons[0]
    assert verdict.as_dict()["policy"] == {
        "min_auc": 0.75,
        "min_auc_delta": 0.05,
        "max_class_drop": 0.02,
    }


def test_it_refuses_a_policy_out_of_range() -> None:
    with pytest.raises(ValueError, match="max_class_drop"):
        GatePolicy(max_class_drop=-0.01)


@pytest.mark.parametrize("with_champion", [True, False])
def test_it_gives_evidence_that_survives_strict_json(with_champion: bool) -> None:
    y, candidate, champion = _evaluation_split(seed=2)
    verdict = gate_evaluate(
        y_true=y,
        candidate_scores=candidate,
        champion_scores=champion if with_champion else None,
        policy=GatePolicy(),
    )
    evidence = verdict.as_dict()
    _assert_plain(evidence)
    assert json.loads(json.dumps(evidence, allow_nan=False)) == evidence
    assert evidence["n_rows"] == 145 and evidence["n_positives"] == 55
    assert (evidence["difference"] is not None) is with_champion
    assert evidence["candidate"]["metrics"]["confusion_matrix"][1][1] > 0
