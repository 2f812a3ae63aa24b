"""The drift core: hand-computed PSI, the bin rule, JSON baselines and the calibrated check."""

import json
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from apps.core.features import FEATURES
from apps.monitoring.psi import (
    Baseline,
    bin_count,
    bin_counts,
    bin_index,
    bin_indices,
    build_baseline,
    drift_evaluate,
    feature_psi,
    noise_floors,
    psi,
    rows_to_columns,
    window_counts,
)
from apps.training.contract import parse_dataset

Row = dict[str, Any]
Sampler = Callable[[np.random.Generator, int], list[Row]]
DRIFT = ("warning", "critical")


def test_it_computes_hand_checked_psi() -> None:
    # (0.25 - 0.5) * ln(0.5) + (0.75 - 0.5) * ln(1.5)
    # = -0.25 * -0.693147 + 0.25 * 0.405465 = 0.173287 + 0.101366 = 0.274653
    assert psi(np.array([0.5, 0.5]), np.array([0.25, 0.75])) == pytest.approx(0.274653, abs=1e-6)
    # (0.3 - 0.2) * ln(1.5) + 0 + (0.4 - 0.5) * ln(0.8)
    # = 0.1 * 0.405465 + -0.1 * -0.223144 = 0.040547 + 0.022314 = 0.062861
    assert psi([0.2, 0.3, 0.5], [0.3, 0.3, 0.4]) == pytest.approx(0.062861, abs=1e-6)
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def test_it_floors_empty_bins() -> None:
    # The empty actual bin counts as 1e-4:
    # (1 - 0.5) * ln(1 / 0.5) + (1e-4 - 0.5) * ln(1e-4 / 0.5)
    # = 0.5 * 0.693147 + -0.4999 * -8.517193 = 0.346574 + 4.257745 = 4.604318
    assert psi([0.5, 0.5], [1.0, 0.0]) == pytest.approx(4.604318, abs=1e-6)
    # A bin empty on both sides contributes (1e-4 - 1e-4) * ln(1) = 0.
    assert psi([0.5, 0.5, 0.0], [0.5, 0.5, 0.0]) == 0.0
    # A bigger floor shrinks the empty bin's term: 0.5 * ln 2 + (0.01 - 0.5) * ln(0.02).
    expected = 0.5 * math.log(2) + (0.01 - 0.5) * math.log(0.01 / 0.5)
    assert psi([0.5, 0.5], [1.0, 0.0], floor=0.01) == pytest.approx(expected)


def test_it_gives_the_same_psi_for_counts_and_proportions() -> None:
    assert psi([20, 30, 50], [15, 15, 20]) == pytest.approx(psi([0.2, 0.3, 0.5], [0.3, 0.3, 0.4]))
    assert psi([216, 184, 491], [0, 10, 40]) == pytest.approx(
        psi([216 / 891, 184 / 891, 491 / 891], [0.0, 0.2, 0.8])
    )


@pytest.mark.parametrize(
    ("expected", "actual"),
    [([0.5, 0.5], [1.0, 0.0, 0.0]), ([0.0, 0.0], [0.5, 0.5]), ([1.0, -1.0], [0.5, 0.5]), ([], [])],
)
def test_it_rejects_unusable_distributions(expected: list[float], actual: list[float]) -> None:
    with pytest.raises(ValueError):
        psi(expected, actual)


def test_it_bins_values_on_an_edge_into_the_lower_bin() -> None:
    baseline = build_baseline({"Age": list(range(1, 101))})
    age = baseline["features"]["Age"]
    assert age["edges"] == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0]
    cases = {-5: 0, 10: 0, 10.0001: 1, 20: 1, 89.9: 8, 90: 8, 90.5: 9, 1e9: 9, None: 10}
    for value, expected in cases.items():
        assert bin_index(age, value) == expected, value
    assert bin_index(age, float("nan")) == 10
    values = [*cases, float("nan")]
    assert bin_indices(age, values).tolist() == [bin_index(age, value) for value in values]
    assert age["labels"][0] == "<= 10"
    assert age["labels"][1] == "(10, 20]"
    assert age["labels"][-2:] == ["> 90", "MISSING"]


def test_it_deduplicates_tied_deciles() -> None:
    baseline = build_baseline({"SibSp": [0] * 80 + [1] * 15 + [2] * 5})
    sibsp = baseline["features"]["SibSp"]
    assert sibsp["edges"] == [0.0, 1.0]
    assert sibsp["labels"] == ["<= 0", "(0, 1]", "> 1", "MISSING"]
    assert sibsp["counts"] == [80, 15, 5, 0]
    assert bin_count(sibsp) == 4


def test_it_sends_missing_values_to_missing_and_unseen_levels_to_other() -> None:
    baseline = build_baseline(
        {
            "Embarked": ["S", "C", None, "S", "Q"],
            "Pclass": [1, 2, 3, 3, 3],
            "Fare": [1, 2, 3, 4, None],
        }
    )
    embarked = baseline["features"]["Embarked"]
    assert embarked["levels"] == ["C", "Q", "S"]
    assert embarked["labels"] == ["C", "Q", "S", "OTHER", "MISSING"]
    assert embarked["counts"] == [1, 1, 2, 0, 1]
    assert embarked["proportions"] == [0.2, 0.2, 0.4, 0.0, 0.2]
    assert bin_index(embarked, "X") == 3
    assert bin_index(embarked, None) == 4
    pclass = baseline["features"]["Pclass"]
    assert pclass["kind"] == "categorical"
    assert [bin_index(pclass, value) for value in (1, 1.0, "1", 3, 4, None)] == [0, 0, 0, 2, 3, 4]
    assert bin_counts(pclass, [1, 2, 2, 7, None]).tolist() == [1, 2, 0, 1, 1]
    fare = baseline["features"]["Fare"]
    assert bin_counts(fare, [None, None, 0.5]).tolist()[-1] == 2
    assert all(feature["n_rows"] == 5 for feature in baseline["features"].values())


def test_it_round_trips_the_real_baseline_through_standard_json(baseline: Baseline) -> None:
    text = json.dumps(baseline, allow_nan=False)
    loaded = json.loads(text)
    assert loaded == baseline
    assert loaded["n_rows"] == 891
    assert set(loaded["features"]) == set(FEATURES)
    for name, feature in loaded["features"].items():
        assert sum(feature["counts"]) == 891, name
        assert sum(feature["proportions"]) == pytest.approx(1.0), name
        assert len(feature["labels"]) == len(feature["counts"]) == bin_count(feature), name
    assert loaded["features"]["Pclass"]["levels"] == ["1", "2", "3"]
    assert [bin_index(loaded["features"]["Fare"], fare) for fare in (0, 7.55, 600, None)] == [
        0,
        0,
        9,
        10,
    ]


def test_it_compares_a_window_feature_against_its_baseline_proportions() -> None:
    baseline = build_baseline({"Sex": ["male", "female"] * 10})
    # Bins female, male, OTHER, MISSING: (0.25 - 0.5) ln 0.5 + (0.75 - 0.5) ln 1.5 = 0.274653.
    assert feature_psi(baseline["features"]["Sex"], [25, 75, 0, 0]) == pytest.approx(
        0.274653, abs=1e-6
    )


def test_it_simulates_noise_floors_deterministically_and_fast(baseline: Baseline) -> None:
    started = time.perf_counter()
    first = noise_floors(baseline, 50, n_sims=2000, seed=7)
    elapsed_2000 = time.perf_counter() - started
    started = time.perf_counter()
    default = noise_floors(baseline, 50)
    elapsed_default = time.perf_counter() - started
    print(
        f"\nnoise floors at 50 rows: 2000 sims {elapsed_2000 * 1000:.1f} ms, "
        f"default sims {elapsed_default * 1000:.1f} ms"
    )
    assert noise_floors(baseline, 50, n_sims=2000, seed=7) == first
    assert noise_floors(baseline, 50, n_sims=2000, seed=8) != first
    assert set(first) == set(FEATURES)
    larger = noise_floors(baseline, 200)
    assert all(larger[name] < default[name] for name in FEATURES)
    assert elapsed_2000 < 0.5
    assert elapsed_default < 1.0


def _sex_window(female: int, male: int) -> dict[str, list[int]]:
    return {"Sex": [female, male, 0, 0]}


def test_it_needs_both_the_threshold_and_the_noise_floor_to_call_drift() -> None:
    baseline = build_baseline({"Sex": ["male", "female"] * 10})
    # 25/75 against 50/50 is PSI 0.274653 (see above); 20/80 is
    # -0.3 * ln(0.4) + 0.3 * ln(1.6) = 0.274887 + 0.141001 = 0.415888.
    warning = drift_evaluate(baseline, _sex_window(25, 75), floors={"Sex": 0.0})
    assert warning.verdict == "warning"
    assert warning.max_psi == pytest.approx(0.274653, abs=1e-6)
    assert warning.drifted_features == ("Sex",)
    critical = drift_evaluate(baseline, _sex_window(20, 80), floors={"Sex": 0.0})
    assert critical.verdict == "critical"
    assert critical.max_psi == pytest.approx(0.415888, abs=1e-6)
    under_floor = drift_evaluate(baseline, _sex_window(25, 75), floors={"Sex": 0.3})
    assert under_floor.verdict == "none"
    assert under_floor.features[0].floor == 0.3
    under_threshold = drift_evaluate(baseline, _sex_window(45, 55), floors={"Sex": 0.0})
    assert under_threshold.verdict == "none"
    assert under_threshold.features[0].drifted is False


def test_it_uses_simulated_floors_when_none_are_given() -> None:
    baseline = build_baseline({"Sex": ["male", "female"] * 10})
    result = drift_evaluate(baseline, _sex_window(40, 60))
    assert result.features[0].floor == noise_floors(baseline, 100)["Sex"]
    assert result.features[0].floor > 0


def test_it_reports_insufficient_data_below_min_rows() -> None:
    baseline = build_baseline({"Sex": ["male", "female"] * 10})
    result = drift_evaluate(baseline, _sex_window(0, 49), floors={"Sex": 0.0})
    assert result.verdict == "insufficient_data"
    assert result.n_rows == 49
    assert result.max_psi is None
    assert (
        json.loads(json.dumps(result.as_dict(), allow_nan=False))["verdict"] == "insufficient_data"
    )
    assert drift_evaluate(baseline, _sex_window(0, 50), floors={"Sex": 0.0}).verdict == "critical"


def test_it_rejects_windows_that_do_not_match_the_baseline() -> None:
    baseline = build_baseline({"Sex": ["male", "female"], "Pclass": [1, 2]})
    with pytest.raises(ValueError, match="different numbers of rows"):
        drift_evaluate(baseline, {"Sex": [30, 30, 0, 0], "Pclass": [30, 31, 0, 0]})
    with pytest.raises(ValueError, match="no counts for feature Pclass"):
        drift_evaluate(baseline, {"Sex": [30, 30, 0, 0]})
    with pytest.raises(ValueError, match="needs 4 bin counts"):
        drift_evaluate(baseline, {"Sex": [30, 30, 0], "Pclass": [30, 30, 0, 0]})


# --- the targets, on the real data set -----------------------------------------------------------


@pytest.fixture(scope="module")
def training_rows(titanic_bytes: bytes) -> list[Row]:
    return parse_dataset(titanic_bytes).rows


@pytest.fixture(scope="module")
def baseline(training_rows: list[Row]) -> Baseline:
    return build_baseline(rows_to_columns(training_rows))


def _windows(sampler: Sampler, baseline: Baseline, size: int, trials: int, seed: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    return [window_counts(baseline, rows_to_columns(sampler(rng, size))) for _ in range(trials)]


def _drift_rate(baseline: Baseline, windows: list[Any], floors: dict[str, float]) -> float:
    verdicts = [drift_evaluate(baseline, counts, floors=floors).verdict for counts in windows]
    return sum(verdict in DRIFT for verdict in verdicts) / len(verdicts)


def _resample(rows: list[Row]) -> Sampler:
    def sample(rng: np.random.Generator, size: int) -> list[Row]:
        return [rows[i] for i in rng.integers(0, len(rows), size)]

    return sample


@pytest.fixture(scope="module")
def drift_free_windows(training_rows: list[Row], baseline: Baseline) -> list[Any]:
    return _windows(_resample(training_rows), baseline, size=50, trials=400, seed=11)


def test_it_false_alarms_on_at_most_5_percent_of_drift_free_windows(
    baseline: Baseline, drift_free_windows: list[Any]
) -> None:
    rate = _drift_rate(baseline, drift_free_windows, noise_floors(baseline, 50))
    print(f"\nfalse alarms, 400 drift-free windows of 50 rows: {rate:.2%}")
    assert rate <= 0.05


def test_it_false_alarms_far_more_without_the_noise_floor(
    baseline: Baseline, drift_free_windows: list[Any]
) -> None:
    calibrated = _drift_rate(baseline, drift_free_windows, noise_floors(baseline, 50))
    threshold_only = _drift_rate(baseline, drift_free_windows, dict.fromkeys(FEATURES, 0.0))
    print(
        f"\nfalse alarms at 50 rows: threshold only {threshold_only:.2%}, "
        f"calibrated {calibrated:.2%}"
    )
    assert threshold_only > calibrated
    assert threshold_only > 0.25


def test_it_detects_doubled_fares(training_rows: list[Row], baseline: Baseline) -> None:
    doubled = [
        {**row, "Fare": None if row["Fare"] is None else row["Fare"] * 2} for row in training_rows
    ]
    windows = _windows(_resample(doubled), baseline, size=200, trials=200, seed=12)
    rate = _drift_rate(baseline, windows, noise_floors(baseline, 200))
    print(f"\ndetection, Fare x2 in 200 windows of 200 rows: {rate:.2%}")
    assert rate >= 0.95


def test_it_detects_a_surge_of_first_class_passengers(
    training_rows: list[Row], baseline: Baseline
) -> None:
    first = _resample([row for row in training_rows if row["Pclass"] == 1])
    others = _resample([row for row in training_rows if row["Pclass"] != 1])

    def sample(rng: np.random.Generator, size: int) -> list[Row]:
        surge = round(size * 0.6)
        return first(rng, surge) + others(rng, size - surge)

    windows = _windows(sample, baseline, size=200, trials=200, seed=13)
    rate = _drift_rate(baseline, windows, noise_floors(baseline, 200))
    print(f"\ndetection, 60% first class in 200 windows of 200 rows: {rate:.2%}")
    assert rate >= 0.95
