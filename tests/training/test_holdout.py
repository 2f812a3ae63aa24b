"""Pure holdout logic: content keys, the gate's holdout rule and the label guard, by hand."""

import pytest

from apps.training.gate import gate_holdout_evaluate
from apps.training.holdout import (
    LabelGuardPolicy,
    flip_rate,
    holdout_score,
    label_guard_evaluate,
    row_key,
)

ROW = {
    "Pclass": 3,
    "Sex": "male",
    "Age": 22.0,
    "SibSp": 1,
    "Parch": 0,
    "Fare": 7.25,
    "Embarked": "S",
    "Survived": 0,
}


def test_it_keys_a_row_by_content_whatever_its_source_types_or_order() -> None:
    from_csv_parser = {**ROW, "Age": 22, "Pclass": "3"}
    reordered = dict(reversed(list(ROW.items())))
    with_extra_columns = {**ROW, "Name": "Braund, Mr. Owen Harris", "PassengerId": 1}
    assert row_key(ROW) == row_key(from_csv_parser) == row_key(reordered)
    assert row_key(ROW) == row_key(with_extra_columns)
    assert len(row_key(ROW)) == 64


def test_it_gives_different_keys_when_the_label_or_a_missing_value_differs() -> None:
    assert row_key(ROW) != row_key({**ROW, "Survived": 1})
    assert row_key({**ROW, "Age": None}) != row_key({**ROW, "Age": 0.0})
    assert row_key({**ROW, "Embarked": None}) != row_key(ROW)


def test_it_fails_a_candidate_that_loses_holdout_auc_beyond_the_tolerance() -> None:
    y = [0, 0, 1, 1]
    champion = [0.1, 0.2, 0.8, 0.9]  # AUC 1.0
    candidate = [0.1, 0.3, 0.25, 0.9]  # 3 of 4 pairs ordered: AUC 0.75
    verdict = gate_holdout_evaluate(
        y_true=y, candidate_scores=candidate, champion_scores=champion, max_auc_drop=0.02
    )
    assert not verdict.passed
    assert (verdict.candidate_auc, verdict.champion_auc, verdict.auc_drop) == (0.75, 1.0, 0.25)
    assert verdict.reason.startswith("FAIL frozen holdout AUC 0.7500 vs champion 1.0000")
    at_boundary = gate_holdout_evaluate(
        y_true=y, candidate_scores=candidate, champion_scores=champion, max_auc_drop=0.25
    )
    assert at_boundary.passed


def test_it_passes_the_holdout_rule_without_a_champion_and_names_the_rows() -> None:
    verdict = gate_holdout_evaluate(
        y_true=[0, 1],
        candidate_scores=[0.2, 0.7],
        max_auc_drop=0.02,
        rows_label="frozen holdout: 2 rows from data v1",
    )
    assert verdict.passed and verdict.auc_drop is None
    assert "frozen holdout: 2 rows from data v1 AUC 1.0000" in verdict.reason


def test_it_scores_a_version_on_the_holdout() -> None:
    score = holdout_score(y_true=[0, 0, 1, 1], scores=[0.1, 0.6, 0.4, 0.9])
    assert (score.n_rows, score.n_positives) == (4, 2)
    assert score.auc == 0.75
    assert score.accuracy == 0.5  # 0.1 right, 0.6 wrong, 0.4 wrong, 0.9 right
    assert score.predicted_positive_rate == 0.5


def test_it_counts_flipped_predictions() -> None:
    assert flip_rate([0.9, 0.1, 0.6, 0.4], [0.8, 0.2, 0.4, 0.4]) == 0.25
    with pytest.raises(ValueError, match="equally long"):
        flip_rate([0.5], [0.5, 0.5])


def test_it_holds_back_new_labels_whose_balance_moved_too_far() -> None:
    # Base: Kaggle 342/891 = 38.38%; new rows 180/300 = 60%: shift +0.2162 > 0.15.
    verdict = label_guard_evaluate(
        new_rows=300,
        new_positives=180,
        base_rows=891,
        base_positives=342,
        holdout_auc_drop=0.0,
        holdout_flip_rate=0.0,
        policy=LabelGuardPolicy(),
    )
    assert not verdict.passed
    assert verdict.new_positive_share == 0.6
    assert verdict.reasons[0].startswith("FAIL label balance: the 300 new labelled rows are 60.0%")
    assert "shift +0.216" in verdict.reasons[0]


def test_it_holds_back_a_candidate_whose_holdout_behaviour_changed() -> None:
    common = {"new_rows": 300, "new_positives": 120, "base_rows": 891, "base_positives": 342}
    calm = label_guard_evaluate(
        **common, holdout_auc_drop=0.004, holdout_flip_rate=0.1, policy=LabelGuardPolicy()
    )
    assert calm.passed, calm.reasons
    worse = label_guard_evaluate(
        **common, holdout_auc_drop=0.02, holdout_flip_rate=0.1, policy=LabelGuardPolicy()
    )
    assert not worse.passed
    assert [r[:4] for r in worse.reasons] == ["PASS", "FAIL", "PASS"]
    assert "frozen-holdout AUC drop +0.0200" in worse.reasons[1]
    flips = label_guard_evaluate(
        **common, holdout_auc_drop=0.0, holdout_flip_rate=0.2, policy=LabelGuardPolicy()
    )
    assert [r[:4] for r in flips.reasons] == ["PASS", "PASS", "FAIL"]


def test_it_refuses_bounds_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="max_balance_shift"):
        LabelGuardPolicy(max_balance_shift=1.5)
