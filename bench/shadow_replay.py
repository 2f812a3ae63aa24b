"""Benchmark: shadow replay of a candidate against the champion on 10,000 logged requests.

Runs the real service (`shadow_replay_create`: read the rows, score them with both portable
scorers, compare, store) on a scratch SQLite database by default, or on DATABASE_URL if set.
Target: well under a second per 10,000 rows.
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "shadow_replay.json"


def _setup(var_dir: Path) -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{var_dir / 'bench.sqlite3'}")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
    os.environ["TITANIC_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "titanic_ops.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _log(rows: int) -> None:
    from django.utils import timezone

    from apps.serving.models import InferenceLog

    rng = random.Random(1)
    now = timezone.now()
    InferenceLog.objects.bulk_create(
        (
            InferenceLog(
                request_id=uuid.uuid4(),
                created_at=now,
                model_version=1,
                pclass=rng.choice([1, 2, 3]),
                sex=rng.choice(["male", "female"]),
                age=rng.choice([None, rng.uniform(1, 80)]),
                sibsp=rng.randint(0, 4),
                parch=rng.randint(0, 3),
                fare=rng.uniform(5, 200),
                embarked=rng.choice(["S", "C", "Q", None]),
                prob_survive=0.5,
                label=0,
                latency_ms=1.0,
                true_label=rng.choice([0, 1, None, None]),
            )
            for _ in range(rows)
        ),
        batch_size=2000,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _setup(Path(tmp))
        from django.conf import settings

        from apps.monitoring.services.shadow_replays import shadow_replay_create
        from tests.factories import model_version_install

        settings.MODEL_CACHE_DIR = Path(tmp) / "models"
        model_version_install(1, intercept=0.5)
        model_version_install(2, champion=False, intercept=1.4)
        _log(args.rows)
        shadow_replay_create(version=2, limit=args.rows)  # warm: scorer files, query plans
        samples = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            replay = shadow_replay_create(version=2, limit=args.rows)
            samples.append(time.perf_counter() - started)
        result = {
            "rows": replay.rows,
            "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
            "median_s": statistics.median(samples),
            "min_s": min(samples),
            "max_s": max(samples),
            "repeat": args.repeat,
            "agreement": replay.result["agreement"],
        }
    print(f"{'rows':>8} {'database':>12} {'median s':>10} {'min s':>8} {'max s':>8}")
    print(
        f"{result['rows']:>8} {result['database']:>12} {result['median_s']:>10.3f}"
        f" {result['min_s']:>8.3f} {result['max_s']:>8.3f}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
