"""A thin wrapper over the DVC command line, run in the project's DVC repository."""

import hashlib
import subprocess
import sys
from pathlib import Path

import yaml

REMOTE_NAME = "titanic"


class DvcError(RuntimeError):
    """A DVC command failed; the message carries its output."""


def run(root: Path, *args: str, timeout: int = 300) -> str:
    command = [sys.executable, "-m", "dvc", *args]
    result = subprocess.run(
        command, cwd=root, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        # DVC ends its errors with a help footer; the ERROR lines are what the user needs.
        errors = [line for line in output.splitlines() if line.startswith("ERROR")]
        # `--quiet` also silences the error itself: run once more without it to say why.
        if not output and "--quiet" in args:
            return run(root, *[arg for arg in args if arg != "--quiet"], timeout=timeout)
        detail = " ".join(errors) or output[-2000:] or f"exit code {result.returncode}"
        raise DvcError(f"dvc {' '.join(args)} failed: {detail}")
    return result.stdout


def ensure_repo(root: Path) -> None:
    """Initialise DVC in `root` if needed (without git when `root` is not a git work tree)."""
    if (root / ".dvc").is_dir():
        return
    root.mkdir(parents=True, exist_ok=True)
    scm = (root / ".git").exists()
    run(root, "init", "--quiet", *([] if scm else ["--no-scm"]))
    run(root, "config", "core.analytics", "false")


def ensure_remote(root: Path, url: str, endpoint_url: str = "") -> None:
    """Point the default remote at `url` in the untracked local config."""
    run(root, "remote", "add", "--local", "--force", "--default", REMOTE_NAME, url)
    if endpoint_url:
        run(root, "remote", "modify", "--local", REMOTE_NAME, "endpointurl", endpoint_url)


def pointer_md5(pointer: Path) -> str | None:
    """The md5 that a `.dvc` pointer file records, or None when there is no pointer."""
    if not pointer.exists():
        return None
    document = yaml.safe_load(pointer.read_text()) or {}
    outs = document.get("outs") or [{}]
    md5 = outs[0].get("md5")
    return str(md5) if md5 is not None else None


def cache_path(root: Path, md5: str) -> Path:
    """Where DVC 3 keeps the object with this md5 in the repository's cache."""
    return root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def file_md5(path: Path) -> str:
    """DVC 3's hash of a file (md5 of its bytes), read in 1 MiB chunks."""
    digest = hashlib.md5()  # noqa: S324 (DVC's hash, not security)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def locked_md5s(lock_file: Path, stage: str) -> dict[str, str]:
    """The md5 that dvc.lock records for each dependency and output of `stage`, by path."""
    if not lock_file.is_file():
        return {}
    stages = (yaml.safe_load(lock_file.read_text()) or {}).get("stages") or {}
    entries = (
        (stages.get(stage) or {}).get("deps") or [],
        (stages.get(stage) or {}).get("outs") or [],
    )
    return {
        str(entry["path"]): str(entry["md5"])
        for entry in [*entries[0], *entries[1]]
        if entry.get("path") and entry.get("md5")
    }
