"""Architecture rules that must hold: the web process never loads pyspark."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
import django
django.setup()
import titanic_ops.urls  # noqa: F401
from django.test import Client
Client().get("/admin/login/")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pyspark", "py4j"))
print(",".join(loaded) or "clean")
"""


def test_it_serves_web_requests_without_pyspark() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "clean"


def test_it_keeps_pyspark_imports_inside_the_spark_package() -> None:
    offenders = []
    for path in [*ROOT.joinpath("apps").rglob("*.py"), *ROOT.joinpath("titanic_ops").rglob("*.py")]:
        if "spark" in path.relative_to(ROOT).parts[:-1]:
            continue
        text = path.read_text()
        if "import pyspark" in text or "from pyspark" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
