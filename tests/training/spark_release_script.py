"""Run by test_spark_release.py in its own process: a job's JVM is released once idle."""

import sys
from pathlib import Path

from apps.training.spark import session

work = Path(sys.argv[1])
options = {"master": "local[1]", "driver_memory": "512m", "work_dir": work}
with session.spark_in_use(**options, idle_release_seconds=3600) as spark:
    assert spark.range(3).count() == 3
    jvm = spark.sparkContext._gateway.proc
assert session.spark_release_scheduled(), "no release was scheduled after the job"
with session.spark_in_use(**options, idle_release_seconds=3600) as spark:
    assert not session.spark_release_scheduled(), "a new job must cancel the pending release"
    assert spark.sparkContext._gateway.proc is jvm, "the warm JVM is reused"
assert session.spark_release_if_idle()
assert jvm.poll() is not None, "the JVM process still runs after the release"
with session.spark_in_use(**options) as spark:  # a later job starts a fresh JVM
    assert spark.range(2).count() == 2
    assert spark.sparkContext._gateway.proc is not jvm
print("released")
