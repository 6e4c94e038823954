"""The pipeline as data: steps that name catalogue jobs and wire outputs to inputs by name.

Nothing here knows where data lives (host directories, container paths, S3 URIs): a step's
input is either a pipeline input (`PipelineInput("train_data")`) or another step's output
(`Ref("train", "model")`). The executor and the runner decide the locations, which is what
lets a managed-SageMaker runner be added without touching the definition or the jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlmax.common import UsageError
from mlmax.project import JobDefinition, get_job


@dataclass(frozen=True)
class PipelineInput:
    """Data given to the pipeline from outside (a CSV file chosen by the user or generated)."""

    name: str


@dataclass(frozen=True)
class Ref:
    """The output channel `output` of the step `step`."""

    step: str
    output: str


Source = PipelineInput | Ref


@dataclass(frozen=True)
class Step:
    """One run of a catalogue job: where each input channel comes from, and extra arguments."""

    name: str
    job: str
    inputs: dict[str, Source]
    arguments: tuple[str, ...] = ()

    @property
    def definition(self) -> JobDefinition:
        return get_job(self.job)

    @property
    def upstream(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.step for s in self.inputs.values() if isinstance(s, Ref)))


class PipelineDefinitionError(UsageError, ValueError):
    """The pipeline's wiring is wrong (unknown step, channel or input; a cycle)."""


@dataclass(frozen=True)
class QualityGate:
    """A metric one step reports, which later steps need: on SageMaker they run only when it
    reaches a threshold (a pipeline parameter), and the execution fails otherwise."""

    report: Ref  # the step and output channel holding the report
    report_file: str  # the JSON file in that channel, e.g. "evaluation.json"
    metric: str  # its JSON path, e.g. "metrics.roc_auc"
    label: str  # what messages call the metric, e.g. "ROC AUC"
    parameter: str  # the threshold's pipeline parameter, e.g. "MinRocAuc"
    threshold: float  # its default
    gated: tuple[str, ...]  # the steps that run only when the metric reaches it


@dataclass(frozen=True)
class Pipeline:
    """Named inputs plus steps; `order()` gives an execution order that respects the wiring."""

    name: str
    inputs: tuple[str, ...]
    steps: tuple[Step, ...] = field(default_factory=tuple)
    gate: QualityGate | None = None

    def __post_init__(self) -> None:
        self._validate()

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"pipeline {self.name!r} has no step {name!r}")

    def order(self) -> list[Step]:
        """Steps in dependency order; ties keep the order they were declared in."""
        done: set[str] = set()
        ordered: list[Step] = []
        pending = list(self.steps)
        while pending:
            ready = [s for s in pending if set(s.upstream) <= done]
            if not ready:
                names = ", ".join(s.name for s in pending)
                raise PipelineDefinitionError(f"steps {names} depend on each other in a cycle")
            ordered.append(ready[0])
            done.add(ready[0].name)
            pending.remove(ready[0])
        return ordered

    def _validate(self) -> None:
        names = [s.name for s in self.steps]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise PipelineDefinitionError(f"duplicate step names: {sorted(duplicates)}")
        by_name = {s.name: s for s in self.steps}
        for step in self.steps:
            try:
                job = step.definition
            except KeyError as error:
                raise PipelineDefinitionError(f"step {step.name!r}: {error.args[0]}") from None
            missing = {c.name for c in job.inputs} - set(step.inputs)
            if missing:
                raise PipelineDefinitionError(
                    f"step {step.name!r} leaves input channels {sorted(missing)} unwired"
                )
            for channel, source in step.inputs.items():
                self._check_source(step, job, channel, source, by_name)
        self.order()  # raises on a cycle
        if self.gate is not None:
            unknown = {self.gate.report.step, *self.gate.gated} - set(by_name)
            if unknown:
                raise PipelineDefinitionError(
                    f"the quality gate names steps the pipeline lacks: {sorted(unknown)}"
                )

    def _check_source(
        self,
        step: Step,
        job: JobDefinition,
        channel: str,
        source: Source,
        by_name: dict[str, Step],
    ) -> None:
        try:
            job.input(channel)
        except KeyError as error:
            raise PipelineDefinitionError(f"step {step.name!r}: {error.args[0]}") from None
        if isinstance(source, PipelineInput):
            if source.name not in self.inputs:
                raise PipelineDefinitionError(
                    f"step {step.name!r} reads pipeline input {source.name!r}, "
                    f"which is not one of {list(self.inputs)}"
                )
            return
        if source.step not in by_name:
            raise PipelineDefinitionError(
                f"step {step.name!r} reads from unknown step {source.step!r}"
            )
        try:
            by_name[source.step].definition.output(source.output)
        except KeyError as error:
            raise PipelineDefinitionError(f"step {step.name!r}: {error.args[0]}") from None
