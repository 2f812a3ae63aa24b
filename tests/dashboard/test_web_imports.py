"""Browsing the dashboard loads neither pyspark nor MLflow into the web process."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from django.test import Client
from tests.dashboard import factories as f
f.model_version_create(1)
f.pending_request(f.model_version_create(2, status="candidate"), None)
f.drift_report_create(psi={"Sex": 0.3})
f.inference_rows(20)
client = Client(HTTP_HOST="127.0.0.1")
client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
pages = ["/", "/runs/", "/runs/1/", "/models/", "/models/rollback/", "/drift/", "/drift/1/",
         "/traffic/", "/traffic/export.csv", "/data/", "/data/1/", "/runs/active.json"]
codes = [client.get(page).status_code for page in pages]
heavy = {"pyspark", "py4j", "mlflow", "plotly", "sklearn", "scipy"}
loaded = sorted({m.split(".")[0] for m in sys.modules} & heavy)
print(json.dumps({"codes": codes, "loaded": loaded}))
"""


def test_it_renders_pages_without_spark_mlflow_or_plotly_python(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'probe.sqlite3'}",
        "TITANIC_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "titanic_ops.settings",
        "DJANGO_SECRET_KEY": "probe-" + "k" * 40,  # start-up refuses short keys
    }
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PROBE],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["codes"] == [200] * 12
    assert report["loaded"] == []
