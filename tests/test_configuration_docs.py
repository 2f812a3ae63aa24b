"""Every environment variable that settings.py reads is documented for users."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _variables_read_by_settings() -> set[str]:
    text = (ROOT / "titanic_ops" / "settings.py").read_text()
    return set(re.findall(r'env_(?:str|bool|int|float|list|choice)\(\s*"([A-Z0-9_]+)"', text))


def test_it_documents_every_setting_in_readme_and_env_example() -> None:
    names = _variables_read_by_settings()
    assert {"DATABASE_URL", "PSI_THRESHOLD", "SPARK_MASTER"} <= names  # the pattern finds them
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    assert sorted(n for n in names if f"`{n}`" not in readme) == []
    assert sorted(n for n in names if not re.search(rf"^{n}=", example, re.M)) == []
