"""The champion's portable scorer, cached per process and keyed by version.

Each process asks the database which version is champion at most every
SERVING_VERSION_CHECK_SECONDS (one indexed row), so a promotion reaches every worker without a
restart; a version's scorer is loaded (and checksum-verified) once. If a new champion cannot be
loaded, the process keeps serving the one in memory and reports the error in /health.
"""

import threading
import time
from dataclasses import dataclass

from django.conf import settings

from apps.portable.scorer import PortableScorer
from apps.training.models import ModelVersion
from apps.training.services.model_versions import model_version_scorer


@dataclass(frozen=True)
class LoadedModel:
    version: int
    family: str
    scorer: PortableScorer


class NoChampionModel(Exception):
    """No version has been promoted yet."""


class _ChampionCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[int, LoadedModel] = {}
        self._current: LoadedModel | None = None
        self._checked_at = 0.0
        self.load_error = ""  # the champion in the database could not be loaded
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
            self._current = None
            return
        if force:
            self._models.pop(row.version, None)
        if row.version not in self._models:
            try:
                self._models = {row.version: self._load(row)}  # keep only the one serving
            except Exception as exc:
                self.load_error = f"cannot load champion v{row.version}: {exc}"
                if force or self._current is None:
                    raise
                return
        self._current = self._models[row.version]
        self.load_error = ""

    def get(self) -> LoadedModel:
        """The model to score with; raises NoChampionModel when nothing was ever promoted."""
        if time.monotonic() - self._checked_at >= settings.SERVING_VERSION_CHECK_SECONDS:
            with self._lock:
                if time.monotonic() - self._checked_at >= settings.SERVING_VERSION_CHECK_SECONDS:
                    try:
                        self.refresh()
                    except Exception:
                        if self._current is None:
                            raise
        if self._current is None:
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

    def restore(self, model: LoadedModel) -> None:
        """Put back a model that was serving before a failed reload."""
        self._models.setdefault(model.version, model)
        self._current = model

    def reset(self) -> None:
        with self._lock:
            self._models, self._current, self._checked_at = {}, None, 0.0
            self.load_error = self.reload_error = ""


champion_cache = _ChampionCache()
