"""Custom Spark ML stages: Spark's Imputer only handles numbers, so the mode of a string column
is a small estimator of our own (saved with the pipeline as plain parameters)."""

from pyspark import keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F


class _ModeParams(HasInputCol, HasOutputCol):
    fillValue = Param(
        Params._dummy(), "fillValue", "value that replaces nulls", TypeConverters.toString
    )


class ModeImputer(Estimator, _ModeParams, DefaultParamsReadable, DefaultParamsWritable):
    """Fill nulls of a string column with its most frequent value among the fitted rows."""

    @keyword_only
    def __init__(self, *, inputCol: str | None = None, outputCol: str | None = None) -> None:
        super().__init__()
        self._set(**self._input_kwargs)

    def _fit(self, dataset: DataFrame) -> "ModeImputerModel":
        column = self.getInputCol()
        top = (
            dataset.where(F.col(column).isNotNull())
            .groupBy(column)
            .count()
            .orderBy(F.desc("count"), F.asc(column))
            .first()
        )
        if top is None:
            raise ValueError(f"column {column} has no values to take a mode from")
        return ModeImputerModel(inputCol=column, outputCol=self.getOutputCol(), fillValue=top[0])


class ModeImputerModel(Model, _ModeParams, DefaultParamsReadable, DefaultParamsWritable):
    @keyword_only
    def __init__(
        self,
        *,
        inputCol: str | None = None,
        outputCol: str | None = None,
        fillValue: str | None = None,
    ) -> None:
        super().__init__()
        self._set(**self._input_kwargs)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        filled = F.coalesce(F.col(self.getInputCol()), F.lit(self.getOrDefault(self.fillValue)))
        return dataset.withColumn(self.getOutputCol(), filled)
