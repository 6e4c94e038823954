"""Real-time endpoint in Local Mode: deploy -> first prediction, invocation latency, throughput.

Side by side in one run, on the same model and image:

- readiness: mlmax's watch (/ping polled every 0.1 s with the container's state), from
  `create_endpoint` to the first answer, and from deploy to the first prediction;
- invocations: a bounded loop of one-row CSV requests on loopback, through plain HTTP
  (one keep-alive connection) and through the SDK's runtime client (`invoke_endpoint`),
  as p50 / p99 latency and requests per second; plus one request of 1,000 rows.

The figures go to benchmarks/results/endpoint_latency.json with their date, commit and load
average (benchmarks/results.py).

    .venv/bin/python benchmarks/endpoint_latency.py [--repeats 3] [--requests 300] [--image TAG]
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from results import RESULTS, Results, Samples  # benchmarks/ is on sys.path as a script

from mlmax.common.tables import render
from mlmax.localmode.endpoint.client import Endpoint
from mlmax.localmode.endpoint.hosting import deploy
from mlmax.localmode.run.local_mode import LocalMode
from mlmax_census.data.generator import write_csv
from mlmax_census.sample_model import train_sample_model


def _train(root: Path) -> tuple[Path, Path, str, str]:
    """A model trained on the host, one raw row and 1,000 new raw rows to send it."""
    model, proc, _ = train_sample_model(root, rows=3000)
    lines = write_csv(root / "new.csv", 1000, seed=2).read_text().splitlines()
    return model, proc, "\n".join(lines[:2]) + "\n", "\n".join(lines) + "\n"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _loop(call: Callable[[], int], requests: int) -> dict[str, float]:
    latencies = []
    started = time.perf_counter()
    for _ in range(requests):
        begin = time.perf_counter()
        status = call()
        latencies.append(time.perf_counter() - begin)
        if status != 200:
            raise SystemExit(f"an invocation answered {status}")
    total = time.perf_counter() - started
    return {
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * _percentile(latencies, 0.99),
        "per_s": requests / total,
    }


def _http_caller(endpoint: Endpoint, body: str) -> tuple[Callable[[], int], Callable[[], None]]:
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=30)
    headers = {"Content-Type": "text/csv", "Accept": "application/json"}

    def call() -> int:
        connection.request("POST", "/invocations", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status

    return call, connection.close


def _deploy_to_first_prediction(
    local: LocalMode, model: Path, proc: Path, row: str
) -> tuple[float, float]:
    started = time.perf_counter()
    assert local.session is not None
    with deploy(model, proc_model_dir=proc, image=local.image, session=local.session) as endpoint:
        answer = endpoint.post(row)
        first = time.perf_counter() - started
        if answer.status != 200:
            raise SystemExit(f"the first prediction answered {answer.status}")
        ready = endpoint.ready_seconds
    return ready, first


def _failure_noticed_after(local: LocalMode, broken: Path) -> float:
    """Seconds from deploy to the error, for a model whose preprocessor cannot be loaded."""
    from mlmax.localmode.endpoint.hosting import EndpointFailedError

    assert local.session is not None
    started = time.perf_counter()
    try:
        with deploy(broken, image=local.image, session=local.session):
            raise SystemExit("a broken model became ready")
    except EndpointFailedError:
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--image", default=None)
    parser.add_argument(
        "--skip-failure", action="store_true", help="skip the broken-model case (~2 min)"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    results = Results("endpoint_latency", __doc__.splitlines()[0], argv)
    from mlmax.localmode.image.job_image import ensure_job_image

    image = args.image or ensure_job_image(progress=lambda line: print(line, file=sys.stderr))
    with tempfile.TemporaryDirectory(prefix="mlmax-bench-") as temp, LocalMode(image=image) as lm:
        model, proc, row, batch = _train(Path(temp))
        # create_endpoint -> ready, and deploy -> first prediction
        readiness = (Samples(), Samples())
        for _ in range(args.repeats):
            ready, first = _deploy_to_first_prediction(lm, model, proc, row)
            readiness[0].add(ready)
            readiness[1].add(first)
        assert lm.session is not None
        with deploy(model, proc_model_dir=proc, image=image, session=lm.session) as endpoint:
            call, close = _http_caller(endpoint, row)
            try:
                _loop(call, 20)  # warm-up
                plain = _loop(call, args.requests)
            finally:
                close()
            sdk = _loop(lambda: endpoint.invoke(row).status, max(20, args.requests // 3))
            started = time.perf_counter()
            answer = endpoint.post(batch)
            batch_seconds = time.perf_counter() - started
            assert answer.status == 200 and len(answer.json()["predictions"]) == 1000
        failure: dict[str, float] = {}
        if not args.skip_failure:
            broken = Path(temp) / "broken"
            broken.mkdir()
            shutil.copy2(model / "model.joblib", broken)
            (broken / "proc_model.tar.gz").write_bytes(b"not a model archive")
            failure["mlmax"] = _failure_noticed_after(lm, broken)

    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(f"\nreadiness (median of {args.repeats}, s):\n")
    checks = {"mlmax (/ping every 0.1 s, container state every 1 s)": readiness}
    headers = ["health check", "create_endpoint -> ready", "deploy -> first prediction"]
    cells = []
    for name, (ready, first) in checks.items():
        results.add_median("readiness", name, headers[1], ready, "s")
        results.add_median("readiness", name, headers[2], first, "s")
        cells.append([name, f"{statistics.median(ready.values):.2f}"])
        cells[-1].append(f"{statistics.median(first.values):.2f}")
    print(render(headers, cells, right=(1, 2), markdown=True))
    print(f"\ninvocations of one row ({args.requests} plain, {max(20, args.requests // 3)} SDK):\n")
    paths = (("plain HTTP, keep-alive", plain), ("SDK runtime client invoke_endpoint", sdk))
    counts = {"plain HTTP, keep-alive": args.requests}
    for name, figures in paths:
        note = f"{counts.get(name, max(20, args.requests // 3))} requests"
        table = "one-row invocations"
        results.add(table, name, "p50", round(figures["p50_ms"], 2), "ms", note=note)
        results.add(table, name, "p99", round(figures["p99_ms"], 2), "ms", note=note)
        results.add(table, name, "throughput", round(figures["per_s"], 1), "requests/s")
    results.add("one request of 1,000 raw rows", "plain HTTP", "latency", batch_seconds, "s")
    if failure:
        table = "a model that fails to load: deploy -> error"
        results.add(table, "mlmax (container exit seen)", "s", failure["mlmax"], "s")
    results.write(args.results)
    rows = [
        [name, f"{f['p50_ms']:.1f}", f"{f['p99_ms']:.1f}", f"{f['per_s']:.0f}"] for name, f in paths
    ]
    print(render(["path", "p50 ms", "p99 ms", "requests/s"], rows, right=(1, 2, 3), markdown=True))
    print(f"\none request of 1,000 raw rows: {batch_seconds * 1000:.0f} ms")
    if failure:
        print("\na model that fails to load (one run each), deploy -> error:\n")
        rows = [["mlmax (container exit seen)", f"{failure['mlmax']:.1f}"]]
        print(render(["health check", "s"], rows, right=(1,), markdown=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
