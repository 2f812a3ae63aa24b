"""The champion's portable scorer, cached per process and keyed by version.

Each process asks the database which version is champion at most every
SERVING_VERSION_CHECK_SECONDS (one indexed row), so a promotion reaches every worker without a
restart; a version's scorer is loaded (and checksum-verified) once. A process serves only the
database's champion: if that version cannot be loaded it serves nothing (503 naming the cause,
retried at the next check) rather than an older version, and reports the error in /health.
"""

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from apps.core.crashpoints import crash_point
from apps.portable.format import ScorerChecksumError
from apps.portable.scorer import PortableScorer
from apps.training.models import ModelVersion
from apps.training.registry import RegistryError
from apps.training.services.model_versions import model_version_scorer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    version: int
    family: str
    scorer: PortableScorer


class NoChampionModel(Exception):
    """No version has been promoted yet."""


class ModelUnavailable(Exception):
    """The champion exists but its scorer cannot be loaded now (registry, checksum, file)."""


def _cause(exc: Exception) -> str:
    """What went wrong, in words a client may read (no paths, checksums or hosts)."""
    if isinstance(exc, ScorerChecksumError):
        return "its scorer file failed verification"
    if isinstance(exc, RegistryError):
        return "the model registry could not provide its scorer"
    return "its scorer could not be read"


class _ChampionCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[int, LoadedModel] = {}
        self._current: LoadedModel | None = None
        self._checked_at = 0.0
        self._champion_version: int | None = None  # the database's champion at the last check
        self.load_error = ""  # the champion in the database could not be loaded (for the log)
        self.load_summary = ""  # the same, in words a client may read
        self.reload_error = ""  # the last /reload failed (sticky until one succeeds)

    def _load(self, row: ModelVersion) -> LoadedModel:
        return LoadedModel(row.version, row.family, model_version_scorer(row))

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the champion's version; load its scorer when it changed."""
        row = (
            ModelVersion.objects.filter(is_champion=True)
            .only("name", "version", "family", "mlflow_run_id", "scorer_sha256")
            .first()
        )
        self._checked_at = time.monotonic()
        if row is None:
            self._current, self._champion_version = None, None
            return
        self._champion_version = row.version
        if force:
            self._models.pop(row.version, None)
        if row.version not in self._models:
            try:
                loaded = self._load(row)
            except Exception as exc:
                self.load_error = (
                    f"cannot load champion v{row.version}: {type(exc).__name__}: {exc}"
                )
                self.load_summary = f"cannot load champion v{row.version}: {_cause(exc)}"
                logger.exception("cannot load champion v%s", row.version)
                # Never an older version in its place: serve nothing until this one loads.
                self._current = None
                raise ModelUnavailable(self.load_error) from exc
            crash_point("reload.loaded")
            self._models = {row.version: loaded}  # keep only the one serving
        self._current = self._models[row.version]
        self.load_error = self.load_summary = ""

    def get(self) -> LoadedModel:
        """The model to score with; NoChampionModel or ModelUnavailable when there is none."""
        if time.monotonic() - self._checked_at >= settings.SERVING_VERSION_CHECK_SECONDS:
            with self._lock:
                if time.monotonic() - self._checked_at >= settings.SERVING_VERSION_CHECK_SECONDS:
                    try:
                        self.refresh()
                    except ModelUnavailable:
                        raise
                    except Exception:
                        # The database cannot say who is champion: keep the one that was.
                        if self._current is None:
                            raise
        if self._current is None:
            if self.load_error:
                raise ModelUnavailable(self.load_error)
            raise NoChampionModel(
                "no champion model yet: train one (manage.py train) and promote it"
            )
        return self._current

    @property
    def last_error(self) -> str:
        return "; ".join(error for error in (self.reload_error, self.load_error) if error)

    @property
    def loaded(self) -> LoadedModel | None:
        return self._current

    def restore(self, model: LoadedModel) -> bool:
        """Put back a model that served before a failed reload, if it is still the champion."""
        if self._champion_version is not None and model.version != self._champion_version:
            return False  # a rolled-back or retired version never returns to service
        self._models.setdefault(model.version, model)
        self._current = model
        return True

    def reset(self) -> None:
        with self._lock:
            self._models, self._current, self._checked_at = {}, None, 0.0
            self._champion_version = None
            self.load_error = self.load_summary = self.reload_error = ""


champion_cache = _ChampionCache()
