from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.serving.loader import champion_cache
from apps.training.models import ModelVersion
from tests.factories import model_version_install


@pytest.fixture(autouse=True)
def fresh_champion_cache(settings: Any, tmp_path: Path) -> Iterator[None]:
    """Every test starts with an empty per-process model cache and its own scorer folder."""
    settings.MODEL_CACHE_DIR = tmp_path / "models"
    settings.SERVING_VERSION_CHECK_SECONDS = 0.0
    champion_cache.reset()
    yield
    champion_cache.reset()


@pytest.fixture
def champion(db: Any) -> ModelVersion:
    return model_version_install(1)


@pytest.fixture
def api() -> APIClient:
    return APIClient()
