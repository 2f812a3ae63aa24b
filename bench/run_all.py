"""Run every benchmark script in bench/ in its own process, in name order; stop at a failure."""

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def benchmark_scripts() -> list[Path]:
    """Every bench/*.py except this runner and private helpers (names starting with '_')."""
    this = Path(__file__).resolve()
    return [
        path
        for path in sorted(BENCH.glob("*.py"))
        if path.resolve() != this and not path.name.startswith("_")
    ]


def main() -> int:
    """Run the benchmarks one after another; return the first failing exit code, else 0."""
    scripts = benchmark_scripts()
    done: list[tuple[str, float, int]] = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        started = time.perf_counter()
        # A fresh interpreter per script: each gets its own JVM and no warm caches from another.
        code = subprocess.run([sys.executable, str(script)], cwd=ROOT, check=False).returncode
        done.append((script.name, time.perf_counter() - started, code))
        if code != 0:
            break
    print("\n=== summary ===")
    for name, seconds, code in done:
        print(f"{name:<28}{'ok' if code == 0 else f'FAILED (exit {code})':<20}{seconds:8.1f} s")
    skipped = [script.name for script in scripts[len(done) :]]
    if skipped:
        print(f"not run after the failure: {', '.join(skipped)}")
    print(f"results: {(BENCH / 'results').relative_to(ROOT)}/")
    return next((code for _, _, code in done if code != 0), 0)


if __name__ == "__main__":
    sys.exit(main())
