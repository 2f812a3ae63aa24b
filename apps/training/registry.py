"""A thin wrapper over MLflow's model registry: versions, aliases and verified scorer files.

Aliases, not the deprecated stages: `champion` serves traffic, `challenger` waits for a person.
MLflow is imported inside the functions: importing it loads pyspark's Python modules whenever
pyspark is installed, and the web process only needs MLflow on a scorer-cache miss.
"""

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from apps.portable.scorer import PortableScorer, ScorerChecksumError

logger = logging.getLogger(__name__)


def _client(tracking_uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri)


def _mlflow_error() -> type[Exception]:
    from mlflow.exceptions import MlflowException

    return MlflowException


CHAMPION = "champion"
CHALLENGER = "challenger"
SCORER_ARTIFACT = "scorer/scorer.json"


class RegistryError(RuntimeError):
    """The registry or its artifact store did not do what was asked."""


def version_register(
    *, tracking_uri: str, name: str, model_uri: str, run_id: str, tags: dict[str, str]
) -> int:
    """Create a new version of `name` from a logged model; return its number."""
    client = _client(tracking_uri)
    try:
        client.get_registered_model(name)
    except _mlflow_error():
        client.create_registered_model(name, description="Titanic survival classifier (Spark ML)")
    version = client.create_model_version(name, model_uri, run_id=run_id, tags=tags)
    return int(version.version)


def alias_set(*, tracking_uri: str, name: str, alias: str, version: int) -> None:
    try:
        _client(tracking_uri).set_registered_model_alias(name, alias, str(version))
    except (_mlflow_error(), OSError) as exc:
        raise RegistryError(f"cannot move alias {alias!r} of {name} to v{version}: {exc}") from exc


def alias_delete(*, tracking_uri: str, name: str, alias: str) -> None:
    with contextlib.suppress(_mlflow_error()):  # already absent: the goal state holds
        _client(tracking_uri).delete_registered_model_alias(name, alias)


def alias_version(*, tracking_uri: str, name: str, alias: str) -> int | None:
    """The version an alias points at, or None when it points nowhere."""
    try:
        return int(_client(tracking_uri).get_model_version_by_alias(name, alias).version)
    except _mlflow_error() as exc:
        if "not found" in str(exc).lower() or "RESOURCE_DOES_NOT_EXIST" in str(exc):
            return None
        raise RegistryError(f"cannot resolve alias {alias!r} of {name}: {exc}") from exc


def runs_terminate(*, tracking_uri: str, parent_run_id: str, status: str = "KILLED") -> list[str]:
    """End a parent run and its still-running children (a job that died); return their ids."""
    client = _client(tracking_uri)
    try:
        parent = client.get_run(parent_run_id)
        children = client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
            max_results=1000,
        )
    except (_mlflow_error(), OSError) as exc:
        raise RegistryError(f"cannot read MLflow run {parent_run_id}: {exc}") from exc
    ended = []
    for run in [*children, parent]:
        if run.info.status in ("RUNNING", "SCHEDULED"):
            client.set_terminated(run.info.run_id, status=status)
            ended.append(run.info.run_id)
    return ended


def scorer_path(cache_dir: Path, name: str, version: int) -> Path:
    return cache_dir / f"{name}-v{version}" / "scorer.json"


def _scorer_fetch(
    *, tracking_uri: str, path: Path, name: str, version: int, run_id: str, sha256: str
) -> PortableScorer:
    """Download into a private temporary folder, verify, and only then move into the cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".download-") as folder:
        try:
            downloaded = _client(tracking_uri).download_artifacts(run_id, SCORER_ARTIFACT, folder)
        except (_mlflow_error(), OSError) as exc:
            raise RegistryError(f"cannot download the scorer of {name} v{version}: {exc}") from exc
        scorer = PortableScorer.load(Path(downloaded), sha256)  # refused: never enters the cache
        os.replace(downloaded, path)
    return scorer


def scorer_load(
    *, tracking_uri: str, cache_dir: Path, name: str, version: int, run_id: str, sha256: str
) -> PortableScorer:
    """A version's verified scorer: from the local cache, else (or if it fails) from the store."""
    path = scorer_path(cache_dir, name, version)
    cache_problem = ""
    if path.exists():
        try:
            return PortableScorer.load(path, sha256)
        except ScorerChecksumError as exc:
            # A damaged or altered cache entry is never used; a verified download replaces it.
            logger.warning("%s: fetching the scorer again", exc)
            cache_problem = f"the cached file was refused ({exc}) and "
    try:
        return _scorer_fetch(
            tracking_uri=tracking_uri,
            path=path,
            name=name,
            version=version,
            run_id=run_id,
            sha256=sha256,
        )
    except (RegistryError, ScorerChecksumError) as exc:
        if not cache_problem:
            raise
        raise type(exc)(f"{cache_problem}{exc}") from exc


__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "RegistryError",
    "ScorerChecksumError",
    "alias_delete",
    "alias_set",
    "alias_version",
    "scorer_load",
    "version_register",
]
