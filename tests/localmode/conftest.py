"""The production chain, run once per session in Local Mode containers.

Each stage is a session-scoped fixture fed by the previous stage's outputs, exactly as the
pipeline wires them: generated data -> preprocessing -> training -> evaluation and
preprocessing-infer -> batch inference; monitoring compares baseline and new data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mlmax_census.data.generator import write_csv

ROWS = 1500
SEED = 7
NEW_ROWS = 600
DRIFT = 1.0


@dataclass
class Stage:
    result: object
    dirs: dict[str, Path]


def _dirs(root: Path, *names: str) -> dict[str, Path]:
    return {name: root / name for name in names}


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    (root / "raw").mkdir()
    write_csv(root / "raw" / "census.csv", ROWS, seed=SEED)
    (root / "new").mkdir()
    write_csv(root / "new" / "census.csv", NEW_ROWS, seed=SEED + 1, drift=DRIFT)
    (root / "same").mkdir()
    write_csv(root / "same" / "census.csv", NEW_ROWS, seed=SEED + 2)
    return root


@pytest.fixture(scope="session")
def preprocessed(sm_localmode, data_dir, tmp_path_factory) -> Stage:
    out = _dirs(tmp_path_factory.mktemp("preprocessing"), "train", "test", "proc_model")
    result = sm_localmode.run(
        "preprocessing",
        inputs={"data": data_dir / "raw"},
        outputs=out,
        arguments=["--seed", str(SEED)],
    )
    return Stage(result, out)


@pytest.fixture(scope="session")
def trained(sm_localmode, preprocessed, tmp_path_factory) -> Stage:
    out = _dirs(tmp_path_factory.mktemp("train"), "model")
    result = sm_localmode.run(
        "train",
        inputs={"train": preprocessed.dirs["train"], "test": preprocessed.dirs["test"]},
        outputs=out,
        arguments=["--seed", str(SEED), "--c", "0.5"],
    )
    return Stage(result, out)


@pytest.fixture(scope="session")
def evaluated(sm_localmode, preprocessed, trained, tmp_path_factory) -> Stage:
    out = _dirs(tmp_path_factory.mktemp("evaluation"), "evaluation")
    result = sm_localmode.run(
        "evaluation",
        inputs={"model": trained.dirs["model"], "test": preprocessed.dirs["test"]},
        outputs=out,
    )
    return Stage(result, out)


@pytest.fixture(scope="session")
def infer_features(sm_localmode, data_dir, preprocessed, tmp_path_factory) -> Stage:
    out = _dirs(tmp_path_factory.mktemp("preprocessing-infer"), "features", "labels")
    result = sm_localmode.run(
        "preprocessing-infer",
        inputs={"data": data_dir / "new", "proc_model": preprocessed.dirs["proc_model"]},
        outputs=out,
    )
    return Stage(result, out)


@pytest.fixture(scope="session")
def predicted(sm_localmode, trained, infer_features, tmp_path_factory) -> Stage:
    out = _dirs(tmp_path_factory.mktemp("inference"), "predictions")
    result = sm_localmode.run(
        "inference",
        inputs={"model": trained.dirs["model"], "data": infer_features.dirs["features"]},
        outputs=out,
    )
    return Stage(result, out)


def _monitor(sm_localmode, baseline: Path, new: Path, root: Path) -> Stage:
    out = _dirs(root, "monitoring")
    result = sm_localmode.run("monitoring", inputs={"baseline": baseline, "data": new}, outputs=out)
    return Stage(result, out)


@pytest.fixture(scope="session")
def monitored_drift(sm_localmode, data_dir, tmp_path_factory) -> Stage:
    root = tmp_path_factory.mktemp("monitoring-drift")
    return _monitor(sm_localmode, data_dir / "raw", data_dir / "new", root)


@pytest.fixture(scope="session")
def monitored_same(sm_localmode, data_dir, tmp_path_factory) -> Stage:
    root = tmp_path_factory.mktemp("monitoring-same")
    return _monitor(sm_localmode, data_dir / "raw", data_dir / "same", root)
