"""The portable scorer's file format: its name, what it may hold, and how it is written."""

import hashlib
import json
from typing import Any

FORMAT = "titanic-ops-scorer/1"
FAMILIES = ("lr", "rf", "gbt")
# Categorical splits become bitmasks in the scorer; a signed 64-bit mask holds 63 categories, and
# code 63 never has a bit set, so a value that is not a small category code goes right, as in Spark.
MAX_CATEGORIES = 63


class ScorerFormatError(ValueError):
    """The scorer data is not something this package knows how to score."""


class ScorerChecksumError(ValueError):
    """The scorer file's bytes are not the ones that were registered."""


def canonical_json(scorer: dict[str, Any]) -> bytes:
    """Sorted-key compact JSON; refuses NaN and infinities, which JSON cannot carry."""
    try:
        text = json.dumps(scorer, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except ValueError as error:
        raise ValueError(f"scorer holds a non-finite number: {error}") from error
    return text.encode()


def sha256_of(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()
