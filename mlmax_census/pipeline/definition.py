"""The census pipeline as data: its steps, their wiring, and the options a person tunes."""

from __future__ import annotations

from dataclasses import dataclass

from mlmax.pipeline import Pipeline, PipelineDefinitionError, PipelineInput, QualityGate, Ref, Step

MODEL_TYPES = ("logistic_regression", "random_forest", "gradient_boosting")


@dataclass(frozen=True)
class TrainingOptions:
    """What a person tunes: the model and its hyperparameters, and the seed of every step."""

    model_type: str = "logistic_regression"
    seed: int = 42
    c: float | None = None
    n_estimators: int | None = None
    max_depth: int | None = None
    test_size: float | None = None

    def __post_init__(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise PipelineDefinitionError(
                f"unknown model type {self.model_type!r}; choose one of {', '.join(MODEL_TYPES)}"
            )

    def train_arguments(self) -> tuple[str, ...]:
        args = ["--model-type", self.model_type, "--seed", str(self.seed)]
        for option, value in (
            ("--c", self.c),
            ("--n-estimators", self.n_estimators),
            ("--max-depth", self.max_depth),
        ):
            if value is not None:
                args += [option, str(value)]
        return tuple(args)

    def split_arguments(self) -> tuple[str, ...]:
        args = ["--seed", str(self.seed)]
        if self.test_size is not None:
            args += ["--test-size", str(self.test_size)]
        return tuple(args)


TRAIN_DATA = "train_data"
NEW_DATA = "new_data"
# On SageMaker, new data is scored only by a model whose ROC AUC (evaluation.json, see
# docs/job-contract.md) reaches the threshold.
ROC_AUC_GATE = QualityGate(
    report=Ref("evaluation", "evaluation"),
    report_file="evaluation.json",
    metric="metrics.roc_auc",
    label="ROC AUC",
    parameter="MinRocAuc",
    threshold=0.75,
    gated=("inference",),
)


def census_pipeline(options: TrainingOptions | None = None) -> Pipeline:
    """The census income pipeline: train and evaluate a model, score new data, watch drift."""
    options = options or TrainingOptions()
    return Pipeline(
        name="census",
        inputs=(TRAIN_DATA, NEW_DATA),
        steps=(
            Step(
                "preprocessing",
                "preprocessing",
                {"data": PipelineInput(TRAIN_DATA)},
                options.split_arguments(),
            ),
            Step(
                "train",
                "train",
                {"train": Ref("preprocessing", "train"), "test": Ref("preprocessing", "test")},
                options.train_arguments(),
            ),
            Step(
                "evaluation",
                "evaluation",
                {"model": Ref("train", "model"), "test": Ref("preprocessing", "test")},
            ),
            Step(
                "preprocessing-infer",
                "preprocessing-infer",
                {
                    "data": PipelineInput(NEW_DATA),
                    "proc_model": Ref("preprocessing", "proc_model"),
                },
            ),
            Step(
                "inference",
                "inference",
                {"model": Ref("train", "model"), "data": Ref("preprocessing-infer", "features")},
            ),
            Step(
                "monitoring",
                "monitoring",
                {"baseline": PipelineInput(TRAIN_DATA), "data": PipelineInput(NEW_DATA)},
            ),
        ),
        gate=ROC_AUC_GATE,
    )
