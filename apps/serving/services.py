import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from apps.core.features import LOG_COLUMNS, log_values
from apps.serving.loader import LoadedModel, NoChampionModel, champion_cache
from apps.serving.models import InferenceLog, LabelProvenance, ThrottleCounter
from apps.training import registry
from apps.training.services.registry_sync import registry_check_store


class ServiceUnavailable(Exception):
    """The answer cannot be given durably right now (database or registry); retry later."""


class InferenceNotFound(Exception):
    """No inference with this request id."""


class AlreadyLabelled(Exception):
    """The inference already has its true label."""


class RequestIdConflict(Exception):
    """The request id was already used for a different passenger."""


@dataclass(frozen=True)
class Prediction:
    request_id: uuid.UUID
    prob_survive: float
    label: int
    model_version: int


def _label(probability: float) -> int:
    return int(probability > 0.5)  # Spark's rule: class 1 only when P(1) > 0.5


def _log_row(
    features: dict[str, Any],
    *,
    model: LoadedModel,
    probability: float,
    request_id: uuid.UUID,
    latency_ms: float,
    batch_id: uuid.UUID | None = None,
) -> InferenceLog:
    return InferenceLog(
        request_id=request_id,
        model_version=model.version,
        batch_id=batch_id,
        **log_values(features),
        prob_survive=probability,
        label=_label(probability),
        latency_ms=latency_ms,
    )


def _insert(row: InferenceLog) -> None:
    """One INSERT that is durable when it returns: autocommit outside a transaction (one round
    trip), a savepoint inside one so that a duplicate id does not poison the outer block."""
    if connection.in_atomic_block:
        with transaction.atomic():
            row.save(force_insert=True)
    else:
        row.save(force_insert=True)


def _as_prediction(row: InferenceLog) -> Prediction:
    return Prediction(row.request_id, row.prob_survive, row.label, row.model_version)


def _replay(request_id: uuid.UUID, features: dict[str, Any]) -> Prediction | None:
    """The logged answer of an exact retry; a different body under the same id is a conflict."""
    row = InferenceLog.objects.filter(request_id=request_id).first()
    if row is None:
        return None
    differing = sorted(
        name for name, column in LOG_COLUMNS.items() if getattr(row, column) != features.get(name)
    )
    if differing:
        raise RequestIdConflict(
            f"X-Request-ID {request_id} was already used for a different passenger "
            f"(differs in {', '.join(differing)}): send a new id for a new request"
        )
    return _as_prediction(row)


def _champion() -> LoadedModel:
    """The serving model; a loader failure becomes ServiceUnavailable (its text stays in the log
    through the exception chain)."""
    try:
        return champion_cache.get()
    except (NoChampionModel, DatabaseError):
        raise
    except Exception as exc:
        # The cause in words (which version, what failed); paths and checksums go to the log.
        summary = champion_cache.load_summary or "the champion model cannot be loaded"
        raise ServiceUnavailable(summary) from exc


def prediction_create(
    *, features: dict[str, Any], request_id: uuid.UUID, started: float
) -> Prediction:
    """Score one passenger with the champion and log it durably before answering."""
    try:
        model = _champion()
        probability = float(model.scorer.predict_proba([features])[0])
        row = _log_row(
            features,
            model=model,
            probability=probability,
            request_id=request_id,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        try:
            _insert(row)
        except IntegrityError:
            replayed = _replay(request_id, features)  # a retry: answer what was logged
            if replayed is None:
                raise
            return replayed
    except DatabaseError as exc:
        raise ServiceUnavailable("the inference log cannot be written") from exc
    return _as_prediction(row)


def prediction_batch_create(
    *, passengers: Sequence[dict[str, Any]], started: float
) -> tuple[uuid.UUID, list[Prediction]]:
    """Score many passengers in one call; one log row each, all written or none."""
    batch_id = uuid.uuid4()
    try:
        model = _champion()
        probabilities = model.scorer.predict_proba(list(passengers))
        latency_ms = (time.perf_counter() - started) * 1000
        rows = [
            _log_row(
                features,
                model=model,
                probability=float(p),
                request_id=uuid.uuid4(),
                latency_ms=latency_ms,
                batch_id=batch_id,
            )
            for features, p in zip(passengers, probabilities, strict=True)
        ]
        with transaction.atomic():
            InferenceLog.objects.bulk_create(rows, batch_size=500)
    except DatabaseError as exc:
        raise ServiceUnavailable("the inference log cannot be written") from exc
    return batch_id, [_as_prediction(row) for row in rows]


def feedback_record(
    *, request_id: uuid.UUID, survived: int, user: Any = None, via: str = ""
) -> InferenceLog:
    """Attach the true label to a logged inference (once), with who gave it, how and when."""
    labeller = user if user is not None and user.is_authenticated else None
    now = timezone.now()
    with transaction.atomic():  # the label and its provenance, or neither
        updated = InferenceLog.objects.filter(
            request_id=request_id, true_label__isnull=True
        ).update(true_label=survived, labelled_at=now)
        row = InferenceLog.objects.filter(request_id=request_id).first()
        if updated and row is not None and labeller is not None:
            LabelProvenance.objects.create(
                inference=row,
                labelled_by=labeller,
                labelled_by_name=labeller.get_username(),
                labelled_via=via[:16],
                labelled_at=now,
            )
    if row is None:
        raise InferenceNotFound(
            f"no inference with request_id {request_id} in the log; rows older than "
            f"{settings.INFERENCE_LOG_RETENTION_DAYS} days are archived and can no longer be "
            "labelled"
        )
    if not updated:
        raise AlreadyLabelled(
            f"inference {request_id} already has true label {row.true_label} "
            f"(since {row.labelled_at.isoformat() if row.labelled_at else '?'})"
        )
    return row


@dataclass(frozen=True)
class ReloadResult:
    model_version: int
    registry_version: int | None
    consistent: bool


def serving_reload() -> ReloadResult:
    """Re-resolve the champion from the registry and reload its scorer, bounded in time."""
    previous = champion_cache.loaded
    try:
        registry_version = registry.alias_version(
            tracking_uri=settings.MLFLOW_TRACKING_URI,
            name=settings.MLFLOW_MODEL_NAME,
            alias=registry.CHAMPION,
        )
        champion_cache.refresh(force=True)
        loaded = champion_cache.loaded
        registry_check_store(
            database_version=loaded.version if loaded else None, registry_version=registry_version
        )
    except Exception as exc:
        kept = previous is not None and champion_cache.restore(previous)
        serving = f"v{previous.version}" if kept and previous else "nothing"
        champion_cache.reload_error = (
            f"reload failed, still serving {serving}: {type(exc).__name__}: {str(exc)[:300]}"
        )
        raise ServiceUnavailable(champion_cache.reload_error) from exc
    champion_cache.reload_error = ""
    current = champion_cache.loaded
    if current is None:
        raise ServiceUnavailable("no champion model yet")
    return ReloadResult(current.version, registry_version, registry_version == current.version)


def throttle_count(*, ident: str, window: int, amount: int = 1) -> int:
    """Count `amount` (requests or rows) of `ident` in `window`; return the window's total."""
    quote = connection.ops.quote_name  # "window" is a reserved word in PostgreSQL
    table, window_column, count_column = (
        quote(ThrottleCounter._meta.db_table),
        quote("window"),
        quote("count"),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (ident, {window_column}, {count_column}) "  # noqa: S608
            f"VALUES (%s, %s, %s) ON CONFLICT (ident, {window_column}) "
            f"DO UPDATE SET {count_column} = {table}.{count_column} + %s "
            f"RETURNING {count_column}",
            [ident[:64], window, amount, amount],
        )
        count = int(cursor.fetchone()[0])
    if count == amount:  # a client's first request in a window: drop windows nobody needs any more
        ThrottleCounter.objects.filter(window__lt=window - 1).delete()
    return count
