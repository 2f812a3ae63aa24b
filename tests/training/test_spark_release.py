"""The worker does not keep an idle JVM: a job's SparkSession is released after the idle period."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.spark
def test_it_releases_the_jvm_of_an_idle_process_and_starts_a_fresh_one_later(
    tmp_path: Path,
) -> None:
    # Its own process: stopping the JVM must not touch the test session's shared SparkSession.
    # The idle timer itself is not waited for; the script calls the release it would run.
    result = subprocess.run(
        [sys.executable, "-m", "tests.training.spark_release_script", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("released")
    # The project's log4j2 configuration: no start-up warnings (NativeCodeLoader, hostname, BLAS).
    assert "NativeCodeLoader" not in result.stderr, result.stderr
    assert not re.search(r"^\S+ \S+ WARN ", result.stderr, re.MULTILINE), result.stderr
