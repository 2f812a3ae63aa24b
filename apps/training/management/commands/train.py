import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.training.models import ModelVersion, TrainingRun
from apps.training.selectors.decisions import model_version_decision
from apps.training.selectors.model_versions import model_version_champion, model_versions_of_run
from apps.training.services.data_versions import TrainingDataError
from apps.training.services.training_jobs import training_run_execute
from apps.training.services.training_runs import TrainingRefused, training_run_request


class Command(BaseCommand):
    help = "Train the model families with grid search on the current data version (Spark)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--profile", choices=["quick", "full"], help="grid profile")
        parser.add_argument("--families", help="comma-separated subset of lr,rf,gbt")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument(
            "--if-no-champion",
            action="store_true",
            help="do nothing when a champion exists (first start of the platform)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="train even when this data was already trained with the same parameters",
        )
        parser.add_argument(
            "--from-pipeline",
            action="store_true",
            help="fail unless `dvc repro preprocess` made the Parquet of the current data "
            "(default: the job writes it from the CSV when it is missing or stale)",
        )
        parser.add_argument(
            "--summary",
            type=Path,
            help="also write the outcome as JSON to this file (the DVC train stage's metrics)",
        )

    def handle(self, *args: object, **options: Any) -> None:
        as_json = bool(options["json"])
        progress = sys.stderr if as_json else self.stdout
        champion = model_version_champion()
        if options["if_no_champion"] and champion is not None:
            self.stdout.write(
                f"champion v{champion.version} ({champion.family}) exists; not training"
            )
            return
        try:
            run = training_run_request(
                profile=options["profile"],
                families=options["families"],
                trigger=TrainingRun.Trigger.CLI,
                # The first start trains whatever is there; otherwise a repeat must be asked for.
                force=bool(options["force"] or options["if_no_champion"]),
            )
            progress.write(
                f"training run {run.pk}: profile {run.profile}, families "
                f"{','.join(run.families)}, {run.progress_total} grid points, "
                f"data version {run.data_version_id}\n"
            )

            def report(message: str) -> None:
                progress.write(message + "\n")

            run = training_run_execute(
                run_id=run.pk,
                on_progress=report,
                require_pipeline_data=bool(options["from_pipeline"]),
            )
        except (TrainingRefused, TrainingDataError) as exc:
            raise CommandError(str(exc)) from None
        if options["summary"]:
            summary: Path = options["summary"]
            summary.parent.mkdir(parents=True, exist_ok=True)
            summary.write_text(json.dumps(_as_dict(run), indent=2) + "\n")
        if as_json:
            self.stdout.write(json.dumps(_as_dict(run), indent=2))
        else:
            self.stdout.write(_describe(run))
            for version in model_versions_of_run(run):
                self.stdout.write(outcome_line(version) + "\n")
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"training run {run.pk} failed: {run.error}")


def _as_dict(run: TrainingRun) -> dict[str, object]:
    return {
        "training_run_id": run.pk,
        "status": run.status,
        "profile": run.profile,
        "data_version": run.data_version_id,
        "data_csv_md5": run.data_version.md5,
        "data_parquet_md5": run.processed_md5,
        "data_parquet_source": run.processed_source,
        "mlflow_parent_run_id": run.mlflow_parent_run_id,
        "best_family": run.best_family,
        "duration_seconds": run.duration_seconds,
        "families": {
            family: {
                "eval_auc": result["metrics"]["eval_auc"],
                "best_params": result["best_params"],
                "mlflow_run_id": result["child_run_id"],
            }
            for family, result in run.results.items()
        },
        "model_versions": [
            {"version": v.version, "status": v.status, "outcome": outcome_line(v)}
            for v in model_versions_of_run(run)
        ],
        "error": run.error,
    }


def _describe(run: TrainingRun) -> str:
    lines = [
        f"training run {run.pk} {run.status} in {run.duration_seconds or 0:.1f} s "
        f"(MLflow parent run {run.mlflow_parent_run_id})"
    ]
    for family, result in run.results.items():
        marker = "*" if family == run.best_family else " "
        lines.append(
            f" {marker} {family:<4} eval AUC {result['metrics']['eval_auc']:.4f}  "
            f"best {result['best_params']}"
        )
    return "\n".join(lines) + "\n"


def outcome_line(version: ModelVersion) -> str:
    """What became of the registered version, and the command a person runs next."""
    v = version.version
    if version.status == ModelVersion.Status.CHAMPION:
        return f"v{v} is now champion (serving)."
    decision = model_version_decision(version)
    if version.status == ModelVersion.Status.CANDIDATE:
        return (
            f"registered v{v}, waiting for approval — run `manage.py promote {v}` "
            "(or approve it on the dashboard's Models page)"
        )
    if decision.outcome in ("failed", "error"):
        return f"v{v} rejected by the gate: {decision.headline} (on the {decision.rows_label})"
    return f"v{v} is {version.get_status_display()}: {decision.label}"
