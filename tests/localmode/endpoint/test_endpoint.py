"""Real-time endpoints: the model the chain trained, served in its container through the
SDK's Local Mode hosting path, invoked through the SDK's runtime client and plain HTTP."""

from __future__ import annotations

import io
import json
import shutil

import pandas as pd
import pytest

from mlmax.localmode.endpoint.hosting import EndpointFailedError, deploy
from mlmax.localmode.engine import containers
from tests.support.leaks import assert_nothing_left, snapshot

pytestmark = pytest.mark.smlocal


@pytest.fixture(scope="module")
def batch(predicted) -> pd.DataFrame:
    """Batch inference's predictions for the chain's new data (in the container)."""
    return pd.read_csv(predicted.dirs["predictions"] / "predictions.csv")


@pytest.fixture(scope="module")
def new_rows(data_dir) -> str:
    return (data_dir / "new" / "census.csv").read_text()


def served(answer) -> pd.DataFrame:
    assert answer.status == 200, answer.body[:500]
    if answer.content_type.startswith("text/csv"):
        return pd.read_csv(io.BytesIO(answer.body))
    return pd.DataFrame(answer.json()["predictions"])


def assert_equal_to_batch(frame: pd.DataFrame, batch: pd.DataFrame) -> None:
    assert len(frame) == len(batch)
    assert frame["prediction"].tolist() == batch["prediction"].tolist()
    assert frame["probability"].tolist() == pytest.approx(batch["probability"].tolist(), abs=1e-12)


def test_endpoint_predicts_like_batch_inference_with_csv_and_json(
    sm_endpoint, trained, preprocessed, infer_features, new_rows, batch
):
    endpoint = sm_endpoint.deploy(trained.dirs["model"], preprocessed.dirs["proc_model"])
    # Raw census CSV through the SDK's runtime client, JSON answer.
    assert_equal_to_batch(served(endpoint.invoke(new_rows, "text/csv")), batch)
    # Raw rows as JSON records over plain HTTP, CSV answer.
    records = pd.read_csv(io.StringIO(new_rows), dtype=str, keep_default_na=False)
    body = json.dumps(records.to_dict(orient="records"))
    answer = endpoint.post(body, "application/json", accept="text/csv")
    assert answer.content_type.startswith("text/csv")
    assert_equal_to_batch(served(answer), batch)
    # The features preprocessing-infer wrote, as CSV through the runtime client.
    features = (infer_features.dirs["features"] / "infer_features.csv").read_text()
    assert_equal_to_batch(served(endpoint.invoke(features, "text/csv")), batch)


def test_bad_payload_gets_4xx_and_the_endpoint_keeps_serving(
    sm_endpoint, trained, preprocessed, new_rows
):
    # A small body limit, set as a SageMaker model's environment is: it reaches the server.
    endpoint = sm_endpoint.deploy(
        trained.dirs["model"],
        preprocessed.dirs["proc_model"],
        environment={"MLMAX_MAX_REQUEST_BYTES": "1000000"},
    )
    bad = endpoint.invoke("age,education\nforty,Bachelors\n", "text/csv")
    assert bad.status == 400
    assert "lack the census column" in bad.json()["error"]
    unsupported = endpoint.post("x", "application/x-npy")
    assert unsupported.status == 415
    assert "text/csv or application/json" in unsupported.json()["error"]
    deep = endpoint.post("[" * 100_000 + "]" * 100_000, "application/json")
    assert deep.status == 400
    assert "nested too deeply" in deep.json()["error"]
    too_large = endpoint.post(b"1," * 750_000, "text/csv")
    assert too_large.status == 413
    assert too_large.json()["error"].startswith(
        "the body is 1500000 bytes, more than this endpoint's limit of 1000000; "
    )
    assert endpoint.ping()
    first_rows = "\n".join(new_rows.splitlines()[:4]) + "\n"
    assert len(served(endpoint.invoke(first_rows, "text/csv"))) == 3
    assert "Traceback" not in endpoint.logs()


def _published(run_id: str) -> list[tuple[str, str]]:
    (container,) = containers.run_containers(run_id)
    container.reload()
    bindings = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"]
    return [(b["HostIp"], b["HostPort"]) for b in bindings]


def test_two_endpoints_at_once_on_loopback_ports_and_nothing_left(
    sm_localmode, trained, preprocessed, new_rows, tmp_path
):
    before = snapshot(tmp_path, sm_localmode.session.root)
    first_rows = "\n".join(new_rows.splitlines()[:6]) + "\n"
    session, image = sm_localmode.session, sm_localmode.image
    model, proc_model = trained.dirs["model"], preprocessed.dirs["proc_model"]
    with (
        deploy(model, proc_model_dir=proc_model, image=image, session=session) as one,
        deploy(model, proc_model_dir=proc_model, image=image, session=session) as two,
    ):
        assert one.port != two.port
        assert _published(one.run_id) == [("127.0.0.1", str(one.port))]
        assert _published(two.run_id) == [("127.0.0.1", str(two.port))]
        answers = [served(endpoint.invoke(first_rows)) for endpoint in (one, two)]
        assert answers[0].equals(answers[1]) and len(answers[0]) == 5
        run_ids = [one.run_id, two.run_id]
    assert [containers.run_containers(run_id) for run_id in run_ids] == [[], []]
    assert_nothing_left(before, tmp_path, sm_localmode.session.root)


def test_a_model_that_fails_to_load_ends_the_wait_at_once_with_its_log(
    sm_localmode, trained, tmp_path, capfd
):
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy2(trained.dirs["model"] / "model.tar.gz", broken)
    (broken / "proc_model.tar.gz").write_bytes(b"not a model archive")
    before = snapshot(tmp_path, sm_localmode.session.root)
    with (
        pytest.raises(EndpointFailedError) as failure,
        deploy(broken, image=sm_localmode.image, session=sm_localmode.session, timeout=600),
    ):
        pytest.fail("a broken model must not become ready")
    # Ended by the container's exit (code 2 from the serving script), not by the deadline.
    assert failure.value.exit_code == 2
    assert "before it answered /ping" in str(failure.value)
    assert "proc_model.tar.gz" in failure.value.log_tail
    assert "Traceback" not in capfd.readouterr().err  # no thread traceback from the SDK
    assert_nothing_left(before, tmp_path, sm_localmode.session.root)


def test_missing_model_files_are_named_before_anything_starts(sm_localmode, trained):
    from mlmax.localmode.errors import JobSetupError

    entries = set(sm_localmode.session.root.iterdir())
    with (
        pytest.raises(JobSetupError, match=r"no proc_model\.tar\.gz"),
        deploy(trained.dirs["model"], image=sm_localmode.image, session=sm_localmode.session),
    ):
        pass
    assert set(sm_localmode.session.root.iterdir()) == entries
