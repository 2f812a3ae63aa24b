"""Export a saved Spark PipelineModel to plain data for the portable scorer, without a JVM.

A saved PipelineModel is a directory of stages; each stage keeps its parameters as JSON under
`metadata/` and its fitted values as Parquet under `data/` (trees also under `treesMetadata/`).
This module reads those files with pyarrow, so it must never import pyspark.
"""

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from apps.portable.format import FORMAT, MAX_CATEGORIES, canonical_json, sha256_of

FAMILY_BY_CLASS = {
    "org.apache.spark.ml.classification.LogisticRegressionModel": "lr",
    "org.apache.spark.ml.classification.RandomForestClassificationModel": "rf",
    "org.apache.spark.ml.classification.GBTClassificationModel": "gbt",
}
PIPELINE_CLASSES = ("pyspark.ml.pipeline.PipelineModel", "org.apache.spark.ml.PipelineModel")
MODE_IMPUTER_CLASS = "apps.training.spark.stages.ModeImputerModel"
IMPUTER_CLASS = "org.apache.spark.ml.feature.ImputerModel"
INDEXER_CLASS = "org.apache.spark.ml.feature.StringIndexerModel"
ONEHOT_CLASS = "org.apache.spark.ml.feature.OneHotEncoderModel"
ASSEMBLER_CLASS = "org.apache.spark.ml.feature.VectorAssembler"
SCALER_CLASS = "org.apache.spark.ml.feature.StandardScalerModel"
# Spark writes ml.linalg vectors and matrices as structs whose `type` field says the layout.
SPARSE, DENSE = 0, 1


class _Stage:
    """One saved stage: its class, merged parameters and directory."""

    def __init__(self, path: Path, metadata: dict[str, Any]) -> None:
        self.path = path
        self.metadata = metadata
        self.cls: str = metadata["class"]
        self.params: dict[str, Any] = {
            **metadata.get("defaultParamMap", {}),
            **metadata.get("paramMap", {}),
        }

    def columns(self, side: str) -> list[str]:
        """The stage's input or output columns, whether it was set up with one or many."""
        many = self.params.get(f"{side}Cols")
        return list(many) if many else [self.params[f"{side}Col"]]

    def table(self, folder: str = "data") -> list[dict[str, Any]]:
        """All rows of one of the stage's Parquet folders."""
        return _read_parquet_rows(self.path / folder)


def _read_metadata(path: Path) -> dict[str, Any]:
    parts = sorted((path / "metadata").glob("part-*"))
    if not parts:
        raise ValueError(f"{path}: no metadata/part-* file; not a saved Spark ML directory")
    metadata: dict[str, Any] = json.loads(parts[0].read_text())
    return metadata


def _read_parquet_rows(folder: Path) -> list[dict[str, Any]]:
    parts = sorted(folder.glob("part-*.parquet"))
    if not parts:
        raise ValueError(f"{folder}: no part-*.parquet files")
    rows: list[dict[str, Any]] = pa.concat_tables([pq.read_table(p) for p in parts]).to_pylist()
    return rows


def _load_stages(model_dir: Path) -> list[_Stage]:
    metadata = _read_metadata(model_dir)
    if metadata.get("class") not in PIPELINE_CLASSES:
        raise ValueError(
            f"{model_dir}: expected a saved PipelineModel, found {metadata.get('class')}"
        )
    stages = []
    for index, uid in enumerate(metadata["paramMap"]["stageUids"]):
        path = model_dir / "stages" / f"{index}_{uid}"
        if not path.is_dir():
            raise ValueError(f"{model_dir}: stage directory {path.name} is missing")
        stages.append(_Stage(path, _read_metadata(path)))
    return stages


def _vector(struct: dict[str, Any]) -> list[float]:
    if struct["type"] == DENSE:
        return [float(v) for v in struct["values"]]
    dense = [0.0] * struct["size"]
    for index, value in zip(struct["indices"], struct["values"], strict=True):
        dense[index] = float(value)
    return dense


def _matrix(struct: dict[str, Any]) -> list[list[float]]:
    rows, cols = struct["numRows"], struct["numCols"]
    dense = [[0.0] * cols for _ in range(rows)]
    transposed = struct["isTransposed"]
    if struct["type"] == DENSE:
        for k, value in enumerate(struct["values"]):
            # Dense values are column-major, or row-major when transposed.
            i, j = (k // cols, k % cols) if transposed else (k % rows, k // rows)
            dense[i][j] = float(value)
        return dense
    # Sparse matrices are CSC, or CSR when transposed (colPtrs then point at rows).
    pointers, indices, values = struct["colPtrs"], struct["rowIndices"], struct["values"]
    for outer in range(len(pointers) - 1):
        for k in range(pointers[outer], pointers[outer + 1]):
            i, j = (outer, indices[k]) if transposed else (indices[k], outer)
            dense[i][j] = float(values[k])
    return dense


class _Preprocessing:
    """What the preprocessing stages do to each raw column, keyed by the column they produce."""

    def __init__(self) -> None:
        self.produced: dict[str, tuple[str, str, Any]] = {}
        self.assembler: _Stage | None = None
        self.scaler: _Stage | None = None

    def add(self, stage: _Stage) -> None:
        handler = self._handlers().get(stage.cls)
        if handler is None:
            raise ValueError(f"{stage.path.name}: unsupported stage {stage.cls}")
        handler(stage)

    def _handlers(self) -> dict[str, Callable[[_Stage], None]]:
        return {
            MODE_IMPUTER_CLASS: self._mode_imputer,
            IMPUTER_CLASS: self._imputer,
            INDEXER_CLASS: self._indexer,
            ONEHOT_CLASS: self._onehot,
            ASSEMBLER_CLASS: self._assembler,
            SCALER_CLASS: self._scaler,
        }

    def _mode_imputer(self, stage: _Stage) -> None:
        self._produce(stage, "fill", [stage.params["fillValue"]])

    def _imputer(self, stage: _Stage) -> None:
        # Spark's metadata JSON spells the default NaN as a string.
        missing = stage.params.get("missingValue", "NaN")
        if not (missing == "NaN" or (isinstance(missing, float) and math.isnan(missing))):
            raise ValueError(f"{stage.path.name}: only missingValue=NaN is supported")
        (row,) = stage.table()
        self._produce(stage, "impute", [float(row[c]) for c in stage.columns("input")])

    def _indexer(self, stage: _Stage) -> None:
        if stage.params.get("handleInvalid") != "keep":
            raise ValueError(f"{stage.path.name}: StringIndexer needs handleInvalid=keep")
        (row,) = stage.table()
        labels = row.get("labelsArray") or [row["labels"]]
        self._produce(stage, "index", [list(group) for group in labels])

    def _onehot(self, stage: _Stage) -> None:
        if stage.params.get("handleInvalid", "error") != "error":
            raise ValueError(f"{stage.path.name}: OneHotEncoder handleInvalid must be 'error'")
        (row,) = stage.table()
        drop = 1 if stage.params.get("dropLast", True) else 0
        self._produce(stage, "onehot", [size - drop for size in row["categorySizes"]])

    def _assembler(self, stage: _Stage) -> None:
        if self.assembler is not None:
            raise ValueError(f"{stage.path.name}: more than one VectorAssembler")
        self.assembler = stage

    def _scaler(self, stage: _Stage) -> None:
        if self.assembler is None or stage.params["inputCol"] != self.assembler.params["outputCol"]:
            raise ValueError(f"{stage.path.name}: StandardScaler must scale the assembled vector")
        self.scaler = stage

    def _produce(self, stage: _Stage, kind: str, values: list[Any]) -> None:
        inputs, outputs = stage.columns("input"), stage.columns("output")
        for source, target, value in zip(inputs, outputs, values, strict=True):
            self.produced[target] = (kind, source, value)

    def _step(self, column: str, kind: str) -> tuple[str, Any] | None:
        step = self.produced.get(column)
        if step is None or step[0] != kind:
            return None
        return step[1], step[2]

    def _raw(self, column: str) -> str:
        if column in self.produced:
            raise ValueError(f"column {column} is derived in a way the scorer does not support")
        return column

    def assembly(self) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """Trace every assembled input back to a raw column and collect its parameters."""
        if self.assembler is None:
            raise ValueError("the pipeline has no VectorAssembler")
        assembly: list[dict[str, str]] = []
        found: dict[str, dict[str, Any]] = {
            "fill": {},
            "surrogates": {},
            "indexer_labels": {},
            "onehot_sizes": {},
        }
        for column in self.assembler.columns("input"):
            entry = self._trace_onehot(column, found) or self._trace_numeric(column, found)
            if any(seen["column"] == entry["column"] for seen in assembly):
                raise ValueError(f"raw column {entry['column']} feeds the vector twice")
            assembly.append(entry)
        return assembly, found

    def _trace_onehot(self, column: str, found: dict[str, dict[str, Any]]) -> dict[str, str] | None:
        onehot = self._step(column, "onehot")
        if onehot is None:
            return None
        index_column, width = onehot
        indexed = self._step(index_column, "index")
        if indexed is None:
            raise ValueError(f"one-hot column {column} does not come from a StringIndexer")
        string_column, labels = indexed
        filled = self._step(string_column, "fill")
        raw = self._raw(filled[0] if filled else string_column)
        if filled:
            found["fill"][raw] = filled[1]
        found["indexer_labels"][raw] = labels
        found["onehot_sizes"][raw] = width
        return {"column": raw, "kind": "onehot"}

    def _trace_numeric(self, column: str, found: dict[str, dict[str, Any]]) -> dict[str, str]:
        imputed = self._step(column, "impute")
        raw = self._raw(imputed[0] if imputed else column)
        if imputed:
            found["surrogates"][raw] = imputed[1]
        return {"column": raw, "kind": "numeric"}

    def features_column(self) -> str:
        """The column the classifier reads: the scaled vector if there is a scaler."""
        last = self.scaler or self.assembler
        if last is None:
            raise ValueError("the pipeline has no VectorAssembler")
        return str(last.params["outputCol"])

    def scaler_values(self) -> dict[str, list[float]] | None:
        """Effective shift and divisor: no shift without withMean, divisor 1 without withStd."""
        if self.scaler is None:
            return None
        (row,) = self.scaler.table()
        mean, std = _vector(row["mean"]), _vector(row["std"])
        return {
            "mean": mean if self.scaler.params.get("withMean") else [0.0] * len(mean),
            "std": std if self.scaler.params.get("withStd", True) else [1.0] * len(std),
        }


def _feature_names(assembly: list[dict[str, str]], found: dict[str, dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for entry in assembly:
        column = entry["column"]
        if entry["kind"] == "numeric":
            names.append(column)
            continue
        labels = found["indexer_labels"][column]
        for slot in range(found["onehot_sizes"][column]):
            label = labels[slot] if slot < len(labels) else "__unseen__"
            names.append(f"{column}={label}")
    return names


def _export_lr(stage: _Stage) -> dict[str, Any]:
    (row,) = stage.table()
    if row["isMultinomial"] or row["numClasses"] != 2:
        raise ValueError(f"{stage.path.name}: only binomial logistic regression is supported")
    (coefficients,) = _matrix(row["coefficientMatrix"])
    (intercept,) = _vector(row["interceptVector"])
    return {"coefficients": coefficients, "intercept": intercept}


def _tree_arrays(nodes: list[dict[str, Any]], family: str, where: str) -> dict[str, list[Any]]:
    nodes = sorted(nodes, key=lambda node: node["id"])
    if [node["id"] for node in nodes] != list(range(len(nodes))):
        raise ValueError(f"{where}: node ids are not 0..n-1")
    arrays: dict[str, list[Any]] = {
        key: []
        for key in ("feature", "threshold", "categorical", "left_categories", "left", "right")
    }
    arrays["leaf_value"], arrays["leaf_count"] = [], []
    for node in nodes:
        split, leaf = node["split"], node["leftChild"] == -1
        categorical = not leaf and split["numCategories"] > 0
        if categorical and split["numCategories"] > MAX_CATEGORIES:
            raise ValueError(f"{where}: categorical split with {split['numCategories']} categories")
        bounds = split["leftCategoriesOrThreshold"]
        arrays["feature"].append(-1 if leaf else split["featureIndex"])
        arrays["threshold"].append(float(bounds[0]) if not (leaf or categorical) else 0.0)
        arrays["categorical"].append(categorical)
        arrays["left_categories"].append([int(c) for c in bounds] if categorical else [])
        arrays["left"].append(node["leftChild"])
        arrays["right"].append(node["rightChild"])
        stats = node["impurityStats"]
        if family == "rf":
            total = float(sum(stats))
            arrays["leaf_value"].append(stats[1] / total if leaf and total else 0.0)
            arrays["leaf_count"].append(total if leaf else 0.0)
        else:
            arrays["leaf_value"].append(float(node["prediction"]) if leaf else 0.0)
    if family != "rf":
        del arrays["leaf_count"]
    return arrays


def _export_trees(stage: _Stage, family: str) -> dict[str, Any]:
    if family == "rf" and stage.metadata.get("numClasses") != 2:
        raise ValueError(f"{stage.path.name}: only two-class random forests are supported")
    by_tree: dict[int, list[dict[str, Any]]] = {}
    for row in stage.table():
        by_tree.setdefault(row["treeID"], []).append(row["nodeData"])
    weights = {row["_1"]: float(row["_3"]) for row in stage.table("treesMetadata")}
    if sorted(by_tree) != sorted(weights) or sorted(by_tree) != list(range(len(by_tree))):
        raise ValueError(f"{stage.path.name}: tree ids in data/ and treesMetadata/ disagree")
    trees = [
        _tree_arrays(by_tree[tree_id], family, f"{stage.path.name} tree {tree_id}")
        for tree_id in range(len(by_tree))
    ]
    exported: dict[str, Any] = {"trees": trees}
    if family == "gbt":
        exported["tree_weights"] = [weights[tree_id] for tree_id in range(len(by_tree))]
    return exported


def _export_model(stage: _Stage, features_column: str) -> tuple[str, dict[str, Any]]:
    family = FAMILY_BY_CLASS.get(stage.cls)
    if family is None:
        raise ValueError(f"{stage.path.name}: unsupported final stage {stage.cls}")
    if stage.params.get("featuresCol", "features") != features_column:
        raise ValueError(f"{stage.path.name}: the model does not read the assembled features")
    if family == "lr":
        return family, _export_lr(stage)
    return family, _export_trees(stage, family)


def _check_width(
    where: Path, width: int, scaler: dict[str, Any] | None, model: dict[str, Any]
) -> None:
    exact = {"scaler": len(scaler["mean"])} if scaler else {}
    if "coefficients" in model:
        exact["coefficients"] = len(model["coefficients"])
    wrong = [f"{part} has {size}" for part, size in exact.items() if size != width]
    used = max((max(tree["feature"]) + 1 for tree in model.get("trees", [])), default=0)
    if used > width:
        wrong.append(f"trees read slot {used - 1}")
    if wrong:
        raise ValueError(f"{where}: the assembled vector has {width} slots but {', '.join(wrong)}")


def export_pipeline_model(model_dir: Path) -> dict[str, Any]:
    """Read a saved PipelineModel directory into the portable scorer's plain-data form."""
    *preprocessing_stages, final = _load_stages(model_dir)
    preprocessing = _Preprocessing()
    for stage in preprocessing_stages:
        preprocessing.add(stage)
    assembly, found = preprocessing.assembly()
    names = _feature_names(assembly, found)
    family, model = _export_model(final, preprocessing.features_column())
    scaler = preprocessing.scaler_values()
    _check_width(model_dir, len(names), scaler, model)
    return {
        "format": FORMAT,
        "family": family,
        "feature_names": names,
        "preprocessing": {"assembly": assembly, **found, "scaler": scaler},
        "model": model,
        "source": {
            "spark_version": final.metadata.get("sparkVersion"),
            "uid": final.metadata["uid"],
        },
    }


def write_scorer_file(model_dir: Path, out_path: Path) -> str:
    """Export the PipelineModel at model_dir to out_path as canonical JSON; return its sha256."""
    payload = canonical_json(export_pipeline_model(model_dir))
    out_path.write_bytes(payload)
    return sha256_of(payload)
