"""Shared fixtures: the real data set, an isolated DVC repository, a real Spark session."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from apps.training.dataset import builtin_titanic_bytes


@pytest.fixture(scope="session")
def titanic_bytes() -> bytes:
    """The verified Kaggle train.csv (downloaded once into the project's cache)."""
    return builtin_titanic_bytes(django_settings.DATASET_CACHE_DIR)


@pytest.fixture(scope="session")
def titanic_csv(titanic_bytes: bytes, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dataset") / "titanic.csv"
    path.write_bytes(titanic_bytes)
    return path


@pytest.fixture
def dvc_repo(tmp_path: Path, settings: Any) -> Path:
    """A fresh DVC repository (no git) with its own local remote; settings point at it."""
    root = tmp_path / "repo"
    root.mkdir()
    settings.DVC_ROOT = root
    settings.DATA_DIR = root / "data"
    settings.DVC_REMOTE_URL = str(tmp_path / "remote")
    settings.DVC_S3_ENDPOINT_URL = ""
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    return root


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real local Spark session shared by the Spark-marked tests."""
    from apps.training.spark.session import spark_session

    session = spark_session(
        master="local[2]", driver_memory="2g", work_dir=tmp_path_factory.mktemp("spark")
    )
    yield session
    session.stop()


@pytest.fixture
def mlflow_store(tmp_path: Path, settings: Any) -> str:
    """A fresh MLflow tracking/registry store (SQLite) with artifacts under tmp_path."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings.MLFLOW_TRACKING_URI = uri
    settings.MLFLOW_ARTIFACT_ROOT = (tmp_path / "mlartifacts").as_uri()
    settings.MODEL_CACHE_DIR = tmp_path / "models"
    return uri


@pytest.fixture
def ingested(dvc_repo: Path, titanic_bytes: bytes) -> Any:
    """The built-in data set ingested as the current data version of an isolated repo."""
    from apps.training.services.data_versions import data_version_ingest

    return data_version_ingest(data=titanic_bytes, source="test").data_version


@pytest.fixture
def mlflow_ui_silent(settings: Any) -> str:
    """The dashboard's MLflow UI address points at a port where nothing listens."""
    from tests.support.processes import free_port

    settings.MLFLOW_UI_URL = f"http://127.0.0.1:{free_port()}"
    settings.MLFLOW_UI_PROBE_URL = ""
    return settings.MLFLOW_UI_URL  # a new port: no remembered answer applies


@pytest.fixture
def mlflow_ui_answering(settings: Any) -> Iterator[list[str]]:
    """A stand-in for the MLflow UI's /health (200 "OK"); yields the paths it was asked for."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    asked: list[str] = []

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    Thread(target=server.serve_forever, daemon=True).start()
    settings.MLFLOW_UI_URL = f"http://127.0.0.1:{server.server_address[1]}/"
    settings.MLFLOW_UI_PROBE_URL = ""
    yield asked
    server.shutdown()
    server.server_close()
