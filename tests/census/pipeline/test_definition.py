"""The census pipeline's DAG and options: every job in dependency order, wired by name."""

from __future__ import annotations

import pytest

from mlmax.pipeline import PipelineDefinitionError, PipelineInput, Ref
from mlmax_census.pipeline import NEW_DATA, TRAIN_DATA, TrainingOptions, census_pipeline


def test_census_pipeline_runs_every_job_in_dependency_order() -> None:
    order = [s.name for s in census_pipeline().order()]
    assert order == [
        "preprocessing",
        "train",
        "evaluation",
        "preprocessing-infer",
        "inference",
        "monitoring",
    ]


def test_census_pipeline_wires_outputs_to_inputs_by_name() -> None:
    pipeline = census_pipeline()
    assert pipeline.step("train").inputs == {
        "train": Ref("preprocessing", "train"),
        "test": Ref("preprocessing", "test"),
    }
    assert pipeline.step("evaluation").inputs["model"] == Ref("train", "model")
    assert pipeline.step("inference").inputs == {
        "model": Ref("train", "model"),
        "data": Ref("preprocessing-infer", "features"),
    }
    assert pipeline.step("preprocessing-infer").inputs["proc_model"] == Ref(
        "preprocessing", "proc_model"
    )
    assert pipeline.step("monitoring").inputs == {
        "baseline": PipelineInput(TRAIN_DATA),
        "data": PipelineInput(NEW_DATA),
    }


def test_training_options_become_job_arguments() -> None:
    options = TrainingOptions(model_type="random_forest", seed=7, n_estimators=20, max_depth=3)
    pipeline = census_pipeline(options)
    assert pipeline.step("train").arguments == (
        "--model-type",
        "random_forest",
        "--seed",
        "7",
        "--n-estimators",
        "20",
        "--max-depth",
        "3",
    )
    assert pipeline.step("preprocessing").arguments == ("--seed", "7")


def test_unknown_model_type_is_refused() -> None:
    with pytest.raises(PipelineDefinitionError, match="unknown model type 'svm'"):
        TrainingOptions(model_type="svm")
