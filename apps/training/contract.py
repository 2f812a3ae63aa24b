"""The data contract for the Titanic training set (DESIGN.md section 3), as pure Python.

`parse_dataset` turns raw bytes into typed rows or raises `ContractError` whose message names
the offending rows and columns. Row numbers count data rows from 1 (the header is not a row).
"""

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

from apps.core.features import BY_NAME, CATEGORICAL_FEATURES, REQUIRED_COLUMNS

MAX_REPORTED_ERRORS = 20

Row = dict[str, Any]


class ContractError(ValueError):
    """The file breaks the data contract; the message says where."""


@dataclass
class Dataset:
    rows: list[Row]
    columns: list[str]
    errors: list[str] = field(default_factory=list)


def _parse_value(name: str, raw: str) -> Any:
    spec = BY_NAME[name]
    text = raw.strip()
    if text == "":
        if spec.nullable:
            return None
        raise ValueError("is empty")
    if spec.kind in ("choice", "choice_integer"):
        if text not in spec.choices:
            raise ValueError(f"is {text!r}, expected one of {', '.join(spec.choices)}")
        return int(text) if spec.kind == "choice_integer" else text
    try:
        value: float = int(text) if spec.kind == "integer" else float(text)
    except ValueError:
        expected = "an integer" if spec.kind == "integer" else "a number"
        raise ValueError(f"is {text!r}, not {expected}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"is {text!r}, not a finite number")
    if not spec.low <= value <= spec.high:  # type: ignore[operator]
        raise ValueError(f"is {text}, outside [{spec.low:g}, {spec.high:g}]")
    return value


def _decode(data: bytes) -> str:
    if not data.strip():
        raise ContractError("the file is empty: expected a CSV with a header row")
    if b"\x00" in data[:65536]:
        raise ContractError("the file is not a text CSV (it contains binary NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"the file is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None


def _read_header(reader: Any) -> list[str]:
    try:
        header = [name.strip() for name in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise ContractError(f"the file has no readable CSV header ({exc or 'no lines'})") from None
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise ContractError(
            f"missing required column(s): {', '.join(missing)} "
            f"(found: {', '.join(header[:12]) or 'nothing'})"
        )
    duplicated = sorted({name for name in header if header.count(name) > 1 and name})
    if duplicated:
        raise ContractError(f"duplicated column(s): {', '.join(duplicated)}")
    return header


def parse_dataset(data: bytes) -> Dataset:
    """Validate `data` against the contract; return typed rows or raise ContractError."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    header = _read_header(reader)
    index = {name: header.index(name) for name in REQUIRED_COLUMNS}
    rows: list[Row] = []
    errors: list[str] = []
    error_count = 0
    try:
        for number, record in enumerate(reader, start=1):
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                error_count += 1
                errors.append(f"row {number}: has {len(record)} fields, header has {len(header)}")
                continue
            row: Row = {}
            for name, position in index.items():
                try:
                    row[name] = _parse_value(name, record[position])
                except ValueError as exc:
                    error_count += 1
                    errors.append(f"row {number}, column {name}: {exc}")
            rows.append(row)
    except csv.Error as exc:
        raise ContractError(
            f"the file is not valid CSV near row {reader.line_num}: {exc}"
        ) from None
    if error_count:
        shown = "; ".join(errors[:MAX_REPORTED_ERRORS])
        more = f" (and {error_count - MAX_REPORTED_ERRORS} more)" if error_count > 20 else ""
        raise ContractError(f"{error_count} contract violation(s): {shown}{more}")
    if not rows:
        raise ContractError("the file has a header but no data rows")
    if len({row["Survived"] for row in rows}) < 2:
        raise ContractError("column Survived holds a single class: training needs both 0 and 1")
    return Dataset(rows=rows, columns=header)


def summarize(rows: list[Row]) -> dict[str, Any]:
    """Per-column missingness and basic statistics of contract-typed rows."""
    summary: dict[str, Any] = {}
    for name in REQUIRED_COLUMNS:
        values = [row[name] for row in rows if row[name] is not None]
        column: dict[str, Any] = {"missing": len(rows) - len(values), "count": len(values)}
        if name in CATEGORICAL_FEATURES:
            levels: dict[str, int] = {}
            for value in values:
                levels[value] = levels.get(value, 0) + 1
            column["levels"] = dict(sorted(levels.items(), key=lambda item: -item[1]))
        elif values:
            ordered = sorted(values)
            mean = sum(values) / len(values)
            variance = sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)
            middle = len(ordered) // 2
            median = (
                ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
            )
            column.update(
                min=ordered[0],
                max=ordered[-1],
                mean=round(mean, 6),
                std=round(math.sqrt(variance), 6),
                median=median,
            )
        summary[name] = column
    return summary
