"""Grid search per model family, equivalent to TrainValidationSplit over the whole pipeline.

TrainValidationSplit splits its input once (rand(seed) >= trainRatio) and refits the whole
pipeline at every grid point, although the preprocessing sees the same rows each time. Here the
preprocessing is fitted once on the TVS training rows, its vectors are cached, only the
estimators are searched (GBT points that differ only in maxIter share one fit), and the winner
is refitted as a whole pipeline on all training rows, as TrainValidationSplit does.
`naive_search` is the reference it must agree with.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.pool import ThreadPool
from typing import Any

import numpy as np
from pyspark import SparkContext, inheritable_thread_target
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassificationModel
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from apps.training.results import Params, ParamValue
from apps.training.spark.pipeline import LABEL, estimator, full_pipeline, preprocessing_stages

ProgressCallback = Callable[[str, int, Params, float], None]


@dataclass
class FamilySearch:
    family: str
    points: list[Params]
    validation_auc: list[float]
    best_index: int
    model: PipelineModel
    search_seconds: float
    refit_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best_params(self) -> Params:
        return self.points[self.best_index]


def _evaluator() -> BinaryClassificationEvaluator:
    return BinaryClassificationEvaluator(labelCol=LABEL, metricName="areaUnderROC")


def _tvs_split(train: DataFrame, ratio: float, seed: int) -> tuple[DataFrame, DataFrame]:
    # The same expression TrainValidationSplit evaluates, so the rows fall on the same side.
    frame = train.select("*", F.rand(seed).alias("_tvs_rand"))
    condition = frame["_tvs_rand"] >= ratio
    return frame.filter(~condition), frame.filter(condition)


def _fit_groups(family: str, points: list[Params]) -> list[list[int]]:
    """Grid points that one fit can answer: GBT points differing only in maxIter share a fit.

    Gradient boosting without subsampling (subsamplingRate 1, no validation set) builds round k
    from rounds 1..k-1 alone, so the first n trees of a longer run are exactly the model that
    maxIter=n would train. Every other family fits each point on its own.
    """
    if family != "gbt":
        return [[index] for index in range(len(points))]
    groups: dict[tuple[tuple[str, ParamValue], ...], list[int]] = {}
    for index, point in enumerate(points):
        key = tuple(sorted((k, v) for k, v in point.items() if k != "maxIter"))
        groups.setdefault(key, []).append(index)
    return [
        sorted(members, key=lambda i: -float(points[i]["maxIter"])) for members in groups.values()
    ]


def _gbt_prefix(model: Any, rounds: int) -> GBTClassificationModel:
    """The model made of the first `rounds` trees of a fitted GBT model (same JVM class)."""
    context = SparkContext._active_spark_context  # the session is thread-local; the context not
    assert context is not None
    jvm, gateway = context._jvm, context._gateway
    java = model._java_obj
    trees, weights = java.trees(), java.treeWeights()
    tree_class = jvm.org.apache.spark.ml.regression.DecisionTreeRegressionModel
    sub_trees = gateway.new_array(tree_class, rounds)
    sub_weights = gateway.new_array(jvm.double, rounds)
    for i in range(rounds):
        sub_trees[i], sub_weights[i] = trees[i], weights[i]
    prefix = jvm.org.apache.spark.ml.classification.GBTClassificationModel(
        java.uid(), sub_trees, sub_weights, java.numFeatures(), 2
    )
    return GBTClassificationModel(prefix)


def search_family(
    train: DataFrame,
    family: str,
    points: list[Params],
    *,
    ratio: float,
    seed: int,
    parallelism: int = 2,
    on_point: ProgressCallback | None = None,
) -> FamilySearch:
    """Search `points` for `family` on cached preprocessed vectors; refit the winner."""
    started = time.perf_counter()
    tvs_train, tvs_valid = _tvs_split(train, ratio, seed)
    prep = Pipeline(stages=preprocessing_stages(family)).fit(tvs_train)
    train_vec = prep.transform(tvs_train).select("features", LABEL).cache()
    valid_vec = prep.transform(tvs_valid).select("features", LABEL).cache()
    train_vec.count(), valid_vec.count()
    evaluator = _evaluator()

    def fit_group(indices: list[int]) -> list[tuple[int, float]]:
        # The group's first point has the most boosting rounds; the others are its prefixes.
        model = estimator(family, points[indices[0]]).fit(train_vec)
        scored = []
        for index in indices:
            if index == indices[0]:
                candidate = model
            else:
                candidate = _gbt_prefix(model, int(points[index]["maxIter"]))
            scored.append((index, evaluator.evaluate(candidate.transform(valid_vec))))
        return scored

    groups = _fit_groups(family, points)
    aucs = [float("nan")] * len(points)
    try:
        with ThreadPool(processes=max(1, min(parallelism, len(groups)))) as pool:
            task = inheritable_thread_target(train.sparkSession)(fit_group)
            for scored in pool.imap_unordered(task, groups):
                for index, auc in scored:
                    aucs[index] = auc
                    if on_point:
                        on_point(family, index, points[index], auc)
    finally:
        train_vec.unpersist()
        valid_vec.unpersist()
    best = int(np.argmax(aucs))  # first maximum, as TrainValidationSplit picks
    search_seconds = time.perf_counter() - started
    refit_started = time.perf_counter()
    model = full_pipeline(family, points[best]).fit(train)
    return FamilySearch(
        family=family,
        points=points,
        validation_auc=aucs,
        best_index=best,
        model=model,
        search_seconds=search_seconds,
        refit_seconds=time.perf_counter() - refit_started,
    )


def naive_search(
    train: DataFrame, family: str, points: list[Params], *, ratio: float, seed: int
) -> FamilySearch:
    """The seed's way: TrainValidationSplit refitting the whole pipeline at every grid point."""
    started = time.perf_counter()
    pipeline = full_pipeline(family, points[0])
    classifier = pipeline.getStages()[-1]
    builder = ParamGridBuilder()
    for name in points[0]:
        builder.addGrid(classifier.getParam(name), list(dict.fromkeys(p[name] for p in points)))
    grid = builder.build()
    # ParamGridBuilder's order can differ from ours: map its maps back to our points.
    grid_points = [{param.name: value for param, value in m.items()} for m in grid]
    tvs = TrainValidationSplit(
        estimator=pipeline,
        estimatorParamMaps=grid,
        evaluator=_evaluator(),
        trainRatio=ratio,
        seed=seed,
    )
    model = tvs.fit(train)
    by_point = {_key(p): auc for p, auc in zip(grid_points, model.validationMetrics, strict=True)}
    aucs = [by_point[_key(p)] for p in points]
    best_in_grid = grid_points[int(np.argmax(model.validationMetrics))]
    return FamilySearch(
        family=family,
        points=points,
        validation_auc=aucs,
        best_index=points.index(best_in_grid),
        model=model.bestModel,
        search_seconds=time.perf_counter() - started,
        refit_seconds=0.0,
    )


def _key(point: Params) -> tuple[tuple[str, float], ...]:
    return tuple(sorted((name, float(value)) for name, value in point.items()))
