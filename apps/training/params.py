"""Training parameters from params.yaml: profiles of hyper-parameter grids per model family."""

import itertools
from dataclasses import dataclass
from pathlib import Path

import yaml

from apps.training.results import Params, ParamValue

FAMILIES = ("lr", "rf", "gbt")
ALLOWED = {
    "lr": {"regParam", "elasticNetParam"},
    "rf": {"numTrees", "maxDepth", "maxBins"},
    "gbt": {"maxIter", "maxDepth", "stepSize"},
}


class ParamsError(ValueError):
    """params.yaml or a requested profile/family is not usable."""


@dataclass(frozen=True)
class TrainingParams:
    seed: int
    eval_split: tuple[float, float]
    tvs_train_ratio: float
    grids: dict[str, dict[str, list[ParamValue]]]  # family -> param -> values

    def points(self, family: str) -> list[Params]:
        """Every grid point of a family, in a stable order (first param varies slowest)."""
        grid = self.grids[family]
        names = list(grid)
        return [
            dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())
        ]

    def total_points(self, families: list[str]) -> int:
        return sum(len(self.points(family)) for family in families)


def parse_families(text: str | list[str] | None) -> list[str]:
    """'lr,rf' -> ['lr', 'rf'] in canonical order; None means all families."""
    if text is None:
        return list(FAMILIES)
    names = text.split(",") if isinstance(text, str) else text
    requested = {name.strip().lower() for name in names if name.strip()}
    unknown = requested - set(FAMILIES)
    if unknown or not requested:
        raise ParamsError(
            f"unknown model family {', '.join(sorted(unknown)) or '(none)'}; "
            f"choose from {', '.join(FAMILIES)}"
        )
    return [family for family in FAMILIES if family in requested]


PARQUET_COMPRESSIONS = ("snappy", "zstd", "gzip", "none")


def preprocess_compression(path: Path) -> str:
    """The preprocess stage's `preprocess.compression` (dvc.yaml lists it as a parameter)."""
    document = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
    value = str((document.get("preprocess") or {}).get("compression", "snappy"))
    if value not in PARQUET_COMPRESSIONS:
        raise ParamsError(
            f"{path}: preprocess.compression is {value!r}; expected one of "
            f"{', '.join(PARQUET_COMPRESSIONS)}"
        )
    return value


def load_params(path: Path, profile: str) -> TrainingParams:
    """Read params.yaml and return the grids of `profile`, validated."""
    document = yaml.safe_load(path.read_text())
    profiles = document.get("profiles", {})
    if profile not in profiles:
        raise ParamsError(f"unknown profile {profile!r}; params.yaml has {', '.join(profiles)}")
    grids = profiles[profile]
    for family, grid in grids.items():
        if family not in ALLOWED:
            raise ParamsError(f"profile {profile}: unknown family {family!r}")
        extra = set(grid) - ALLOWED[family]
        if extra or not all(isinstance(v, list) and v for v in grid.values()):
            raise ParamsError(f"profile {profile}, family {family}: bad grid {grid}")
    return TrainingParams(
        seed=int(document["seed"]),
        eval_split=tuple(document["eval_split"]),
        tvs_train_ratio=float(document["tvs_train_ratio"]),
        grids=grids,
    )
