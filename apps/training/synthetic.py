"""Titanic-shaped synthetic data sets for scale tests and `bench/scale.py` (deterministic).

Rows are drawn with replacement from the Kaggle rows with a fixed seed; present Age values get
uniform jitter of +-2 years (clipped to [0.42, 80]) and present Fare values a multiplicative
jitter of +-10% (rounded to cents), so the quantiles are not a handful of repeated values.
Everything else (labels, classes, missing cells) is copied from the drawn row. Written in chunks:
memory stays bounded whatever the row count.
"""

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CHUNK_ROWS = 50_000


def _jittered(
    rows: list[list[str]], header: list[str], picks: np.ndarray, rng: np.random.Generator
) -> Iterator[list[str]]:
    age, fare = header.index("Age"), header.index("Fare")
    age_noise = rng.uniform(-2.0, 2.0, size=picks.size)
    fare_noise = rng.uniform(0.9, 1.1, size=picks.size)
    for position, pick in enumerate(picks):
        row = list(rows[pick])
        if row[age]:
            row[age] = f"{min(max(float(row[age]) + age_noise[position], 0.42), 80.0):.2f}"
        if row[fare]:
            row[fare] = f"{float(row[fare]) * fare_noise[position]:.2f}"
        yield row


def synthetic_titanic_write(*, source: bytes, rows: int, seed: int, path: Path) -> Path:
    """Write `rows` Titanic-shaped rows resampled from `source` (a Kaggle CSV) to `path`."""
    reader = csv.reader(io.StringIO(source.decode("utf-8")))
    header = next(reader)
    originals = [row for row in reader if row]
    rng = np.random.default_rng(seed)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        passenger = header.index("PassengerId")
        written = 0
        while written < rows:
            size = min(CHUNK_ROWS, rows - written)
            picks = rng.integers(0, len(originals), size=size)
            for offset, row in enumerate(_jittered(originals, header, picks, rng)):
                row[passenger] = str(written + offset + 1)
                writer.writerow(row)
            written += size
    return path
