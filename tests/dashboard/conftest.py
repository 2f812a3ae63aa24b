"""Dashboard fixtures: users with and without permissions, clients, an isolated MLflow store."""

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from apps.serving.loader import champion_cache

PASSWORD = "a-long-test-password-42"


@pytest.fixture(autouse=True)
def isolated_files(settings: Any, tmp_path: Path) -> Iterator[None]:
    """Scorer cache, DVC data folder and per-process model cache belong to the test."""
    settings.MODEL_CACHE_DIR = tmp_path / "models"
    settings.DATA_DIR = tmp_path / "data"
    settings.SERVING_VERSION_CHECK_SECONDS = 0.0
    champion_cache.reset()
    yield
    champion_cache.reset()


# Every dashboard user may look at the pages and the traffic; the tests vary what they may do.
LOOK = ("view_dashboard", "view_inferencelog")


def _user(username: str, *permissions: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD)
    permissions = (*LOOK, *permissions)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


@pytest.fixture
def viewer(db: Any) -> User:
    """Signed in, but without any permission: may look, may not act."""
    return _user("viola")


@pytest.fixture
def approver(db: Any) -> User:
    return _user("alice", "approve_modelversion", "add_trainingrun")


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(viewer: User) -> Client:
    return _client_for(viewer)


@pytest.fixture
def approver_client(approver: User) -> Client:
    return _client_for(approver)


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store with its tables created once (creating them takes seconds)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_registry(mlflow_template: Path, tmp_path: Path, settings: Any) -> str:
    """A fresh, real MLflow tracking + registry store for one test (a copy of the template)."""
    path = tmp_path / "mlflow.db"
    shutil.copyfile(mlflow_template, path)
    settings.MLFLOW_TRACKING_URI = f"sqlite:///{path}"
    settings.MLFLOW_ARTIFACT_ROOT = (tmp_path / "mlartifacts").as_uri()
    return settings.MLFLOW_TRACKING_URI
