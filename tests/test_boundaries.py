"""Architecture rules that must hold at run time: the web process never loads pyspark.

The static floors (layers, the Spark boundary, pure packages) are import-linter contracts in
pyproject.toml, run by `make test` and exercised in tests/test_architecture.py.
"""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Serves real requests in a fresh interpreter (own SQLite database) WITHOUT the web guard, so
# the result shows what the web code itself imports.
PROBE = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from tests.factories import SEED_EXAMPLE, model_version_install
model_version_install(1)
client = Client(HTTP_HOST="127.0.0.1")
codes = [
    client.post("/predict_titanic", SEED_EXAMPLE, content_type="application/json").status_code,
    client.post("/predict_titanic/batch", {"passengers": [SEED_EXAMPLE] * 3},
                content_type="application/json").status_code,
    client.get("/health").status_code,
    client.get("/admin/login/").status_code,
    client.get("/api/schema/").status_code,
]
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"pyspark", "py4j", "mlflow"})
print(json.dumps({"codes": codes, "loaded": loaded}))
"""

GUARD = """
import sys
from titanic_ops.wsgi import application
try:
    import pyspark
    print("imported")
except ModuleNotFoundError as exc:
    print("blocked:", exc)
import mlflow  # MLflow falls back to its pyspark-less path
print("pyspark" in sys.modules, "mlflow" in sys.modules)
"""


def _run(code: str, tmp_path: Path) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'probe.sqlite3'}",
        "TITANIC_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "titanic_ops.settings",
    }
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def test_it_serves_predictions_without_pyspark_or_mlflow(tmp_path: Path) -> None:
    report = json.loads(_run(PROBE, tmp_path)[-1])
    assert report["codes"] == [200, 200, 200, 200, 200]
    assert report["loaded"] == []


def test_it_blocks_spark_in_the_wsgi_process(tmp_path: Path) -> None:
    lines = _run(GUARD, tmp_path)
    assert lines[0] == "blocked: pyspark is not available in the web process"
    assert lines[1] == "False True"


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_it_keeps_pyspark_imports_inside_the_spark_package() -> None:
    sources = [*ROOT.joinpath("apps").rglob("*.py"), *ROOT.joinpath("titanic_ops").rglob("*.py")]
    importers = {
        str(path.relative_to(ROOT)) for path in sources if "pyspark" in _imported_roots(path)
    }
    assert importers  # the check sees the Spark package itself
    assert all(name.startswith("apps/training/spark/") for name in importers), importers
