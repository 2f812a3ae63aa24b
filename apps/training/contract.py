"""The data contract for the Titanic training set (DESIGN.md section 3), as pure Python.

`parse_dataset` turns raw bytes into typed rows or raises `ContractError` whose message names
the offending rows and columns. Row numbers count data rows from 1 (the header is not a row).
"""

import collections
import csv
import io
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from apps.core.features import BY_NAME, CATEGORICAL_FEATURES, REQUIRED_COLUMNS

MAX_REPORTED_ERRORS = 20
# Exact medians keep one count per distinct value; past this many distinct values in a column the
# median comes from a seeded uniform sample of MEDIAN_SAMPLE_ROWS values (and says so).
MEDIAN_MAX_DISTINCT = 200_000
MEDIAN_SAMPLE_ROWS = 100_001

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


class _Checker:
    """Row-by-row validation with the contract's messages; rows are yielded, never kept."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.header = _read_header(reader)
        self.index = {name: self.header.index(name) for name in REQUIRED_COLUMNS}
        self.errors: list[str] = []
        self.error_count = 0

    def _error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(message)

    def rows(self) -> Iterator[Row]:
        width = len(self.header)
        try:
            for number, record in enumerate(self.reader, start=1):
                if not any(cell.strip() for cell in record):
                    continue
                if len(record) != width:
                    self._error(f"row {number}: has {len(record)} fields, header has {width}")
                    continue
                row: Row = {}
                for name, position in self.index.items():
                    try:
                        row[name] = _parse_value(name, record[position])
                    except ValueError as exc:
                        self._error(f"row {number}, column {name}: {exc}")
                yield row
        except csv.Error as exc:
            raise ContractError(
                f"the file is not valid CSV near row {self.reader.line_num}: {exc}"
            ) from None

    def finish(self, *, rows: int, classes: set[Any]) -> None:
        if self.error_count:
            shown = "; ".join(self.errors)
            more = (
                f" (and {self.error_count - MAX_REPORTED_ERRORS} more)"
                if self.error_count > MAX_REPORTED_ERRORS
                else ""
            )
            raise ContractError(f"{self.error_count} contract violation(s): {shown}{more}")
        if not rows:
            raise ContractError("the file has a header but no data rows")
        if len(classes) < 2:
            raise ContractError("column Survived holds a single class: training needs both 0 and 1")


def parse_dataset(data: bytes) -> Dataset:
    """Validate `data` against the contract; return typed rows or raise ContractError."""
    checker = _Checker(csv.reader(io.StringIO(_decode(data), newline="")))
    rows = list(checker.rows())
    checker.finish(rows=len(rows), classes={row.get("Survived") for row in rows})
    return Dataset(rows=rows, columns=checker.header)


@dataclass
class DatasetScan:
    """What a streaming pass learnt about a file: its shape and per-column summary."""

    columns: list[str]
    rows: int
    positives: int
    summary: dict[str, Any]


def _text_stream(path: Path) -> TextIO:
    with path.open("rb") as raw:
        head = raw.read(65536)
    if not head.strip() and path.stat().st_size <= len(head):
        raise ContractError("the file is empty: expected a CSV with a header row")
    if b"\x00" in head:
        raise ContractError("the file is not a text CSV (it contains binary NUL bytes)")
    return path.open(encoding="utf-8-sig", newline="")


def scan_dataset(path: Path) -> DatasetScan:
    """Validate the file at `path` in one streaming pass; summarise it without holding rows."""
    with _text_stream(path) as stream:
        try:
            checker = _Checker(csv.reader(stream))
            running = RunningSummary()
            classes: set[Any] = set()
            positives = 0
            for row in checker.rows():
                running.add(row)
                classes.add(row.get("Survived"))
                positives += row.get("Survived") == 1
        except UnicodeDecodeError as exc:
            raise ContractError(f"the file is not UTF-8 text ({exc.reason})") from None
    checker.finish(rows=running.rows, classes=classes)
    return DatasetScan(
        columns=checker.header, rows=running.rows, positives=positives, summary=running.summary()
    )


def sample_dataset(path: Path, *, size: int, seed: int) -> list[Row]:
    """A uniform sample of at most `size` typed rows, in file order when the file is smaller."""
    rng = random.Random(seed)  # noqa: S311 (reproducible sampling, not secrets)
    sample: list[Row] = []
    with _text_stream(path) as stream:
        for seen, row in enumerate(_Checker(csv.reader(stream)).rows()):
            if seen < size:
                sample.append(row)
            elif (slot := rng.randrange(seen + 1)) < size:
                sample[slot] = row  # reservoir sampling (algorithm R)
    return sample


class _Column:
    """Running statistics of one numeric column: exact except the median past a bound."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.mean = 0.0
        self.m2 = 0.0
        self.low: Any = None
        self.high: Any = None
        self.distinct: collections.Counter[Any] | None = collections.Counter()
        self.sample: list[Any] = []
        self.random = random.Random(0)  # noqa: S311 (sampling, not secrets)

    def add(self, value: Any) -> None:
        self.count += 1
        self.total += value
        delta = value - self.mean  # Welford: one pass, numerically stable
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)
        self.low = value if self.low is None or value < self.low else self.low
        self.high = value if self.high is None or value > self.high else self.high
        if self.distinct is not None:
            self.distinct[value] += 1
            if len(self.distinct) > MEDIAN_MAX_DISTINCT:
                self.distinct = None  # too many distinct values: keep the sample only
        # Reservoir sample (algorithm R), the median's fallback past MEDIAN_MAX_DISTINCT.
        if len(self.sample) < MEDIAN_SAMPLE_ROWS:
            self.sample.append(value)
        else:
            slot = self.random.randrange(self.count)
            if slot < MEDIAN_SAMPLE_ROWS:
                self.sample[slot] = value

    def median(self) -> tuple[Any, bool]:
        """The median (mean of the two middle values when even) and whether it is exact."""
        if self.distinct is None:
            ordered = sorted(self.sample)
            middle = len(ordered) // 2
            if len(ordered) % 2:
                return ordered[middle], False
            return (ordered[middle - 1] + ordered[middle]) / 2, False
        middle = self.count // 2
        wanted = [middle] if self.count % 2 else [middle - 1, middle]
        picked: list[Any] = []
        seen = 0
        for value in sorted(self.distinct):
            seen += self.distinct[value]
            while len(picked) < len(wanted) and wanted[len(picked)] < seen:
                picked.append(value)
        return (picked[0] if len(picked) == 1 else (picked[0] + picked[1]) / 2), True


class RunningSummary:
    """The `summarize` figures, accumulated one row at a time (memory independent of rows)."""

    def __init__(self) -> None:
        self.rows = 0
        self.missing = dict.fromkeys(REQUIRED_COLUMNS, 0)
        self.levels: dict[str, collections.Counter[Any]] = {
            name: collections.Counter() for name in REQUIRED_COLUMNS if name in CATEGORICAL_FEATURES
        }
        self.numbers = {
            name: _Column() for name in REQUIRED_COLUMNS if name not in CATEGORICAL_FEATURES
        }

    def add(self, row: Row) -> None:
        self.rows += 1
        for name in REQUIRED_COLUMNS:
            value = row.get(name)
            if value is None:
                self.missing[name] += 1
            elif name in self.levels:
                self.levels[name][value] += 1
            else:
                self.numbers[name].add(value)

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        for name in REQUIRED_COLUMNS:
            missing = self.missing[name]
            column: dict[str, Any] = {"missing": missing, "count": self.rows - missing}
            if name in self.levels:
                counts = self.levels[name]
                ordered = sorted(counts.items(), key=lambda item: -item[1])
                column["levels"] = dict(ordered)
            elif self.numbers[name].count:
                stats = self.numbers[name]
                median, exact = stats.median()
                variance = stats.m2 / max(stats.count - 1, 1)
                column.update(
                    min=stats.low,
                    max=stats.high,
                    mean=round(stats.total / stats.count, 6),
                    std=round(math.sqrt(variance), 6),
                    median=median,
                )
                if not exact:
                    column["median_exact"] = False
            summary[name] = column
        return summary


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
