"""The floors of the house are checked by import-linter: the real tree keeps every contract, and
a deliberate upward import is caught and named."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
LAYERS = "Floors: the project shell"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # The tree under test must be the first on the path, not the installed (editable) project.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_it_keeps_every_import_contract_on_the_real_tree() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert "Web entry points never reach the Spark package KEPT" in result.stdout


def test_it_names_the_broken_floor_when_training_imports_monitoring(tmp_path: Path) -> None:
    for folder in ("apps", "titanic_ops"):
        shutil.copytree(
            ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    gate = tmp_path / "apps" / "training" / "gate.py"
    gate.write_text(gate.read_text() + "\nfrom apps.monitoring import services  # noqa\n")

    result = _lint_imports(tmp_path)

    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert LAYERS in broken
    assert "apps.training is not allowed to import apps.monitoring" in broken
    assert "apps.training.gate -> apps.monitoring.services" in broken
    assert "Contracts: 3 kept, 1 broken." in result.stdout
