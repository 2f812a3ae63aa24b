"""The DVC wrapper says why a command failed, even when it ran with --quiet (real DVC and git)."""

import subprocess
from pathlib import Path

import pytest

from apps.training import dvc

ROOT = Path(__file__).resolve().parents[2]


def test_a_quiet_failure_still_names_its_cause(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    dvc.ensure_repo(tmp_path)
    (tmp_path / "dvc.yaml").write_bytes((ROOT / "dvc.yaml").read_bytes())
    (tmp_path / ".gitignore").write_text("/dvc.lock\n")  # DVC refuses an ignored lock file
    (tmp_path / "data.csv").write_text("a\n1\n")
    with pytest.raises(dvc.DvcError) as failed:
        dvc.run(tmp_path, "add", "--quiet", "data.csv")
    assert "dvc add data.csv failed: ERROR:" in str(failed.value)
    assert "dvc.lock' is git-ignored" in str(failed.value)
