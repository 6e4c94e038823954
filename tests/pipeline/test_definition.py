"""The pipeline definition: wiring by names, validation, execution order (on the catalogue's
jobs, which are the census sample's)."""

from __future__ import annotations

import pytest

from mlmax.pipeline import Pipeline, PipelineDefinitionError, PipelineInput, Ref, Step


def _pipeline(*steps: Step, inputs: tuple[str, ...] = ("raw",)) -> Pipeline:
    return Pipeline("test", inputs, steps)


def _monitoring(name: str, baseline: object, data: object) -> Step:
    return Step(name, "monitoring", {"baseline": baseline, "data": data})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ((Step("a", "no-such-job", {}),), "unknown job 'no-such-job'"),
        (
            (Step("a", "monitoring", {"data": PipelineInput("raw")}),),
            r"input channels \[.baseline.\] unwired",
        ),
        (
            (_monitoring("a", PipelineInput("raw"), PipelineInput("elsewhere")),),
            "pipeline input 'elsewhere'",
        ),
        ((_monitoring("a", PipelineInput("raw"), Ref("ghost", "x")),), "unknown step 'ghost'"),
        (
            (
                _monitoring("a", PipelineInput("raw"), PipelineInput("raw")),
                _monitoring("b", PipelineInput("raw"), Ref("a", "nope")),
            ),
            "no output channel 'nope'",
        ),
        (
            (
                _monitoring("a", PipelineInput("raw"), Ref("b", "monitoring")),
                _monitoring("b", PipelineInput("raw"), Ref("a", "monitoring")),
            ),
            "cycle",
        ),
        (
            (
                _monitoring("a", PipelineInput("raw"), PipelineInput("raw")),
                _monitoring("a", PipelineInput("raw"), PipelineInput("raw")),
            ),
            "duplicate step names",
        ),
    ],
)
def test_bad_wiring_is_refused_with_the_step_named(steps: tuple[Step, ...], message: str) -> None:
    with pytest.raises(PipelineDefinitionError, match=message):
        _pipeline(*steps)


def test_extra_input_channel_is_refused() -> None:
    step = Step(
        "a",
        "monitoring",
        {
            "baseline": PipelineInput("raw"),
            "data": PipelineInput("raw"),
            "extra": PipelineInput("raw"),
        },
    )
    with pytest.raises(PipelineDefinitionError, match="no input channel 'extra'"):
        _pipeline(step)


def test_declaration_order_is_kept_when_steps_are_independent() -> None:
    late = _monitoring("late", PipelineInput("raw"), Ref("early", "monitoring"))
    early = _monitoring("early", PipelineInput("raw"), PipelineInput("raw"))
    other = _monitoring("other", PipelineInput("raw"), PipelineInput("raw"))
    assert [s.name for s in _pipeline(late, early, other).order()] == ["early", "late", "other"]


def test_a_quality_gate_naming_a_step_the_pipeline_lacks_is_refused() -> None:
    from mlmax.pipeline import QualityGate

    gate = QualityGate(Ref("evaluation", "evaluation"), "e.json", "m", "M", "MinM", 0.5, ("x",))
    step = _monitoring("watch", PipelineInput("raw"), PipelineInput("raw"))
    with pytest.raises(PipelineDefinitionError, match=r"lacks: \['evaluation', 'x'\]"):
        Pipeline("test", ("raw",), (step,), gate=gate)
