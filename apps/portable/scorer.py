"""Score rows with an exported Spark PipelineModel using numpy alone (no Spark, no Django).

The plain-data form comes from `apps.portable.exporter`; every rule here mirrors what the fitted
Spark stages do, so the probabilities agree with Spark's own to rounding error.
"""

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from apps.portable.format import (
    FAMILIES,
    FORMAT,
    MAX_CATEGORIES,
    ScorerChecksumError,
    ScorerFormatError,
    sha256_of,
)

# Any value that is not a small non-negative integer gets this code, which no left set holds.
NO_CATEGORY = MAX_CATEGORIES


class _Features:
    """Mode fill, median surrogates, string indexing, one-hot blocks, assembly and scaling."""

    def __init__(self, preprocessing: Mapping[str, Any]) -> None:
        self._slots: list[tuple[str, int, float | None, str | None, dict[str, int] | None]] = []
        offset = 0
        for entry in preprocessing["assembly"]:
            column = entry["column"]
            if entry["kind"] == "numeric":
                surrogate = preprocessing["surrogates"].get(column)
                self._slots.append((column, offset, surrogate, None, None))
                offset += 1
            elif entry["kind"] == "onehot":
                width = int(preprocessing["onehot_sizes"][column])
                labels = preprocessing["indexer_labels"][column]
                # Labels past the block width (a dropped last slot) index to nothing, like unseen.
                index = {label: slot for slot, label in enumerate(labels) if slot < width}
                fill = preprocessing["fill"].get(column)
                self._slots.append((column, offset, None, fill, index))
                offset += width
            else:
                raise ScorerFormatError(f"unknown assembly kind {entry['kind']!r} for {column}")
        self.width = offset
        self._scale = self._scaling(preprocessing.get("scaler"))

    def _scaling(self, scaler: Mapping[str, Any] | None) -> tuple[np.ndarray, np.ndarray] | None:
        if scaler is None:
            return None
        mean = np.asarray(scaler["mean"], dtype=np.float64)
        std = np.asarray(scaler["std"], dtype=np.float64)
        if mean.shape != (self.width,) or std.shape != (self.width,):
            raise ScorerFormatError(f"scaler size does not match the {self.width} features")
        # Spark multiplies by 1/std and maps a zero std to a zero factor.
        with np.errstate(divide="ignore"):
            factor = np.where(std == 0.0, 0.0, 1.0 / std)
        return mean, factor

    def assemble(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The assembled (unscaled) feature matrix, one row per input row."""
        matrix = np.zeros((len(rows), self.width), dtype=np.float64)
        for r, row in enumerate(rows):
            for column, offset, surrogate, fill, index in self._slots:
                if column not in row:
                    raise ValueError(f"row {r}: missing field {column}")
                value = row[column]
                if index is None:
                    matrix[r, offset] = _number(value, surrogate, column, r)
                    continue
                if value is None:
                    value = fill
                slot = index.get(value) if isinstance(value, str) else None
                if slot is not None:
                    matrix[r, offset + slot] = 1.0
        return matrix

    def transform(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The vector the classifier reads: assembled, then standardised if the pipeline was."""
        matrix = self.assemble(rows)
        if self._scale is not None:
            mean, factor = self._scale
            matrix = (matrix - mean) * factor
        return matrix


def _number(value: Any, surrogate: float | None, column: str, r: int) -> float:
    if value is not None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"row {r}: {column} must be a number, got {value!r}") from None
        if not math.isnan(number):
            return number
    # Spark's Imputer treats null and NaN alike; columns without a surrogate fail in Spark too.
    if surrogate is None:
        raise ValueError(f"row {r}: {column} is required")
    return surrogate


class _Linear:
    """Binomial logistic regression on the (scaled) feature vector."""

    def __init__(self, model: Mapping[str, Any], width: int) -> None:
        self._coefficients = np.asarray(model["coefficients"], dtype=np.float64)
        if self._coefficients.shape != (width,):
            raise ScorerFormatError(f"{self._coefficients.size} coefficients for {width} features")
        self._intercept = float(model["intercept"])

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return _positive_class(features @ self._coefficients + self._intercept)


class _Ensemble:
    """All trees of a forest or boosted model in flat arrays, walked one depth level at a time."""

    def __init__(self, family: str, model: Mapping[str, Any], width: int) -> None:
        trees = model["trees"]
        if not trees:
            raise ScorerFormatError("the model has no trees")
        sizes = [len(tree["feature"]) for tree in trees]
        self._roots = np.cumsum([0, *sizes[:-1]]).astype(np.intp)
        total = sum(sizes)
        self._feature = np.zeros(total, dtype=np.intp)
        # Leaves compare against +inf and loop to themselves, so extra levels leave them put.
        self._threshold = np.full(total, np.inf)
        self._categorical = np.zeros(total, dtype=bool)
        self._mask = np.zeros(total, dtype=np.int64)
        self._children = np.zeros(2 * total, dtype=np.intp)
        self._value = np.zeros(total)
        self._counted = np.zeros(total)
        self._depth = 0
        for tree, root in zip(trees, self._roots, strict=True):
            self._add_tree(tree, int(root), width)
        self._family = family
        self._weights = np.asarray(model.get("tree_weights", [1.0] * len(trees)), dtype=np.float64)
        if self._weights.shape != (len(trees),):
            raise ScorerFormatError(f"{self._weights.size} tree weights for {len(trees)} trees")

    def _add_tree(self, tree: Mapping[str, Any], root: int, width: int) -> None:
        size = len(tree["feature"])
        counts = tree.get("leaf_count", [1.0] * size)
        for local in range(size):
            node, left, right = root + local, tree["left"][local], tree["right"][local]
            if left == -1:
                self._children[2 * node : 2 * node + 2] = node
                self._value[node] = tree["leaf_value"][local]
                self._counted[node] = 1.0 if counts[local] > 0 else 0.0
                continue
            if not (0 <= left < size and 0 <= right < size and 0 <= tree["feature"][local] < width):
                raise ScorerFormatError(f"tree node {local} points outside its tree or vector")
            self._children[2 * node : 2 * node + 2] = (root + left, root + right)
            self._feature[node] = tree["feature"][local]
            if tree["categorical"][local]:
                self._categorical[node] = True
                self._mask[node] = sum(1 << int(c) for c in tree["left_categories"][local])
            else:
                self._threshold[node] = tree["threshold"][local]
        self._depth = max(self._depth, _depth(tree["left"], tree["right"]))

    def _leaves(self, features: np.ndarray) -> np.ndarray:
        rows, width = features.shape
        flat = features.ravel()
        row_start = (np.arange(rows, dtype=np.intp) * width)[:, None]
        codes = _category_codes(flat) if self._categorical.any() else None
        node = np.repeat(self._roots[None, :], rows, axis=0)
        for _ in range(self._depth):
            cell = row_start + self._feature[node]
            right = ~(flat[cell] <= self._threshold[node])
            if codes is not None:
                in_left_set = (self._mask[node] >> codes[cell]) & 1
                right = np.where(self._categorical[node], in_left_set == 0, right)
            node = self._children[2 * node + right]
        return node

    def __call__(self, features: np.ndarray) -> np.ndarray:
        leaves = self._leaves(features)
        if self._family == "rf":
            # Spark sums each tree's class shares, skipping empty leaves, then normalises.
            shares: np.ndarray = self._value[leaves].sum(axis=1) / self._counted[leaves].sum(axis=1)
            return shares
        # Spark's log-loss link: P(1) = 1 / (1 + exp(-2 * weighted sum of tree outputs)).
        return _positive_class(2.0 * (self._value[leaves] @ self._weights))


def _positive_class(margin: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-margin)), evaluated the way Spark's models do to keep the same bits."""
    # Spark computes the negative class first and subtracts it from 1, with the JVM's exp, which
    # matched libm here bit for bit; numpy's vectorised exp is sometimes one ulp off.
    negative = [1.0 / (1.0 + _exp(value)) for value in margin.tolist()]
    return 1.0 - np.asarray(negative, dtype=np.float64)


def _exp(value: float) -> float:
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf


def _depth(left: Sequence[int], right: Sequence[int]) -> int:
    deepest, stack, seen = 0, [(0, 0)], 0
    while stack:
        node, level = stack.pop()
        seen += 1
        if seen > len(left):
            raise ScorerFormatError("tree nodes do not form a tree")
        if left[node] == -1:
            deepest = max(deepest, level)
        else:
            stack += [(left[node], level + 1), (right[node], level + 1)]
    return deepest


def _category_codes(flat: np.ndarray) -> np.ndarray:
    whole = (flat == np.floor(flat)) & (flat >= 0) & (flat < NO_CATEGORY)
    return np.where(whole, flat, NO_CATEGORY).astype(np.int64)


class PortableScorer:
    """P(survived=1) from an exported PipelineModel, with Spark's preprocessing rules."""

    def __init__(
        self,
        *,
        family: str,
        feature_names: Sequence[str],
        features: _Features,
        model: _Linear | _Ensemble,
    ) -> None:
        self.family = family
        self.feature_names = tuple(feature_names)
        self._features = features
        self._model = model

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PortableScorer":
        """Build a scorer from the exporter's plain data, checking its shape."""
        if data.get("format") != FORMAT:
            raise ScorerFormatError(f"unknown scorer format {data.get('format')!r}; want {FORMAT}")
        family = data.get("family")
        if family not in FAMILIES:
            raise ScorerFormatError(f"unknown model family {family!r}")
        try:
            features = _Features(data["preprocessing"])
            if len(data["feature_names"]) != features.width:
                raise ScorerFormatError(
                    f"{len(data['feature_names'])} feature names for {features.width} features"
                )
            model: _Linear | _Ensemble = (
                _Linear(data["model"], features.width)
                if family == "lr"
                else _Ensemble(family, data["model"], features.width)
            )
        except (KeyError, TypeError, IndexError) as error:
            raise ScorerFormatError(f"malformed scorer data: {error!r}") from error
        return cls(
            family=family, feature_names=data["feature_names"], features=features, model=model
        )

    @classmethod
    def load(cls, path: Path, expected_sha256: str) -> "PortableScorer":
        """Read a scorer file, refusing it unless its sha256 is the expected one."""
        payload = path.read_bytes()
        actual = sha256_of(payload)
        expected = expected_sha256.strip().lower()
        if actual != expected:
            raise ScorerChecksumError(
                f"scorer file {path} has sha256 {actual}, expected {expected}"
            )
        return cls.from_dict(json.loads(payload))

    def assemble(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The assembled feature vectors before any scaling (columns follow feature_names)."""
        return self._features.assemble(rows)

    def predict_proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """P(survived=1) for each row (keys Pclass, Sex, Age, SibSp, Parch, Fare, Embarked)."""
        if not rows:
            return np.zeros(0)
        return self._model(self._features.transform(rows))


__all__ = ["FORMAT", "PortableScorer", "ScorerChecksumError", "ScorerFormatError"]
