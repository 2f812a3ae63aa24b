"""The streaming contract pass: same verdicts and messages, same summary, bounded state."""

from pathlib import Path

import pytest

from apps.training import contract
from apps.training.synthetic import synthetic_titanic_write


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    return path


def test_it_summarises_in_one_pass_exactly_like_the_row_summary(
    titanic_bytes: bytes, tmp_path: Path
) -> None:
    scan = contract.scan_dataset(_write(tmp_path, titanic_bytes))
    rows = contract.parse_dataset(titanic_bytes).rows
    expected = contract.summarize(rows)
    assert (scan.rows, scan.positives) == (891, 342)
    assert scan.columns[:3] == ["PassengerId", "Survived", "Pclass"]
    for name, column in expected.items():
        found = dict(scan.summary[name])
        if "std" in column:
            assert found.pop("std") == pytest.approx(column.pop("std"), abs=2e-6), name
        assert found == column, name


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"Survived,Pclass\n1,1\n",
        b"PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n"
        b"1,2,3,a,male,22,1,0,t,7.25,,S\n2,1,1,b,robot,-3,1,0,t,71,,C\n3,1,1,c\n",
        b"PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n"
        b"1,1,3,a,male,22,1,0,t,7.25,,S\n",
        b"PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n",
    ],
)
def test_it_refuses_what_the_row_parser_refuses_with_the_same_message(
    data: bytes, tmp_path: Path
) -> None:
    with pytest.raises(contract.ContractError) as parsed:
        contract.parse_dataset(data)
    with pytest.raises(contract.ContractError) as scanned:
        contract.scan_dataset(_write(tmp_path, data))
    assert str(scanned.value) == str(parsed.value)


def test_it_reports_more_than_twenty_violations_with_a_count(tmp_path: Path) -> None:
    header = b"PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n"
    data = header + b"".join(b"%d,5,3,a,male,22,1,0,t,7.25,,S\n" % i for i in range(30))
    with pytest.raises(
        contract.ContractError, match=r"30 contract violation\(s\).*\(and 10 more\)"
    ):
        contract.scan_dataset(_write(tmp_path, data))


def test_it_falls_back_to_a_sampled_median_past_the_distinct_bound(
    titanic_bytes: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = synthetic_titanic_write(
        source=titanic_bytes, rows=20_000, seed=3, path=tmp_path / "s.csv"
    )
    exact = contract.scan_dataset(path).summary["Fare"]
    monkeypatch.setattr(contract, "MEDIAN_MAX_DISTINCT", 100)
    monkeypatch.setattr(contract, "MEDIAN_SAMPLE_ROWS", 5_001)
    sampled = contract.scan_dataset(path).summary["Fare"]
    assert "median_exact" not in exact and sampled["median_exact"] is False
    assert sampled["median"] == pytest.approx(exact["median"], rel=0.1)
    assert {k: sampled[k] for k in ("min", "max", "mean", "count")} == {
        k: exact[k] for k in ("min", "max", "mean", "count")
    }


def test_it_samples_rows_uniformly_without_reading_them_all_in(
    titanic_bytes: bytes, tmp_path: Path
) -> None:
    path = _write(tmp_path, titanic_bytes)
    assert (
        contract.sample_dataset(path, size=5000, seed=1)
        == contract.parse_dataset(titanic_bytes).rows
    )
    sample = contract.sample_dataset(path, size=100, seed=1)
    assert len(sample) == 100
    assert sample == contract.sample_dataset(path, size=100, seed=1)
    assert 20 < sum(row["Survived"] for row in sample) < 60
