import pytest

from apps.training.contract import ContractError, parse_dataset, summarize

HEADER = "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n"


def _csv(*rows: str) -> bytes:
    return (HEADER + "".join(row + "\n" for row in rows)).encode()


GOOD = '1,0,3,"Braund, Mr. Owen",male,22,1,0,A/5 21171,7.25,,S'
SURVIVOR = '2,1,1,"Cumings, Mrs. John",female,38,1,0,PC 17599,71.2833,C85,C'


def test_it_types_rows_and_ignores_extra_columns() -> None:
    dataset = parse_dataset(_csv(GOOD, SURVIVOR, '3,1,3,"X",female,,0,0,T,,,'))
    assert dataset.rows[0] == {
        "Survived": 0,
        "Pclass": 3,
        "Sex": "male",
        "Age": 22.0,
        "SibSp": 1,
        "Parch": 0,
        "Fare": 7.25,
        "Embarked": "S",
    }
    assert dataset.rows[2]["Age"] is None
    assert dataset.rows[2]["Fare"] is None
    assert dataset.rows[2]["Embarked"] is None


def test_it_names_the_missing_column() -> None:
    data = b"Survived,Pclass,Sex,Age,SibSp,Parch,Embarked\n0,3,male,22,1,0,S\n"
    with pytest.raises(ContractError, match="missing required column.*Fare"):
        parse_dataset(data)


def test_it_names_row_and_column_of_a_bad_value() -> None:
    rows = [GOOD] * 11 + [GOOD.replace(",0,3,", ",0,7,", 1)] + [SURVIVOR]
    with pytest.raises(ContractError, match=r"row 12, column Pclass: is '7'") as caught:
        parse_dataset(_csv(*rows))
    assert "1 contract violation" in str(caught.value)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (GOOD.replace(",22,", ",121,"), r"row 1, column Age: is 121, outside \[0, 120\]"),
        (GOOD.replace(",22,", ",-1,"), "column Age"),
        (GOOD.replace(",male,", ",robot,"), "column Sex: is 'robot'"),
        (GOOD.replace(",S", ",X"), "column Embarked: is 'X'"),
        (GOOD.replace(",1,0,A/5", ",1.5,0,A/5"), "column SibSp: is '1.5', not an integer"),
        (GOOD.replace(",1,0,A/5", ",21,0,A/5"), "column SibSp"),
        (GOOD.replace(",7.25,", ",nan,"), "column Fare: is 'nan', not a finite number"),
        (GOOD.replace(",7.25,", ",10001,"), "column Fare"),
        (GOOD.replace("1,0,3,", "1,2,3,", 1), "column Survived"),
        (GOOD.replace("1,0,3,", "1,,3,", 1), "column Survived: is empty"),
        ("1,0,3", "row 1: has 3 fields"),
    ],
)
def test_it_rejects_each_domain_violation(row: str, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        parse_dataset(_csv(row, SURVIVOR))


def test_it_rejects_empty_and_binary_files() -> None:
    with pytest.raises(ContractError, match="empty"):
        parse_dataset(b"")
    with pytest.raises(ContractError, match="empty"):
        parse_dataset(b"\n \n")
    with pytest.raises(ContractError, match="binary"):
        parse_dataset(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(ContractError, match="not UTF-8"):
        parse_dataset(b"\xff\xfe\xfa garbage")


def test_it_rejects_a_header_without_rows_and_a_single_class() -> None:
    with pytest.raises(ContractError, match="no data rows"):
        parse_dataset(HEADER.encode())
    with pytest.raises(ContractError, match="single class"):
        parse_dataset(_csv(GOOD, GOOD))


def test_it_caps_the_number_of_reported_errors() -> None:
    bad = GOOD.replace(",male,", ",robot,")
    with pytest.raises(ContractError) as caught:
        parse_dataset(_csv(SURVIVOR, *[bad] * 30))
    assert "30 contract violation(s)" in str(caught.value)
    assert "(and 10 more)" in str(caught.value)


def test_it_summarizes_the_real_data_set(titanic_bytes: bytes) -> None:
    dataset = parse_dataset(titanic_bytes)
    summary = summarize(dataset.rows)
    assert len(dataset.rows) == 891
    assert sum(row["Survived"] for row in dataset.rows) == 342
    assert summary["Age"]["missing"] == 177
    assert summary["Embarked"]["missing"] == 2
    assert summary["Sex"]["levels"] == {"male": 577, "female": 314}
    assert summary["Fare"]["max"] == pytest.approx(512.3292)
    assert summary["Age"]["median"] == 28.0
