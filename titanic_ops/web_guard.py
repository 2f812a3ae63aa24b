"""Keep Spark out of web processes.

MLflow imports pyspark opportunistically whenever it is installed, which would load Spark's
Python modules into every web worker that touches the registry. A web process has no use for
them: this finder makes `import pyspark` (and py4j) fail there, so libraries fall back to their
pyspark-less paths and any accidental Spark import in web code fails loudly.
"""

import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

BLOCKED = ("pyspark", "py4j")


class _SparkBlocker(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> Any:
        if fullname.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{fullname} is not available in the web process")
        return None


def block_spark_imports() -> None:
    """Install the finder once, ahead of the normal import machinery."""
    if not any(isinstance(finder, _SparkBlocker) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SparkBlocker())
