"""Two ways a project's tests meet the wrong SageMaker SDK setting, each named in one sentence.

- Under `--smlocal`, a test's own SDK object built without `sagemaker_session=sm_session`
  makes its own session, which asks AWS (STS first) for the account and the default bucket:
  offline that ends in botocore's connection error after its retries. The test's failure
  then says which argument keeps it offline.
- An environment with SDK v2 installed (most existing SageMaker projects are v2 code):
  the summary names the upgrade and the page that maps v2 code to v3 and to mlmax.

Loaded by mlmax.pytest_plugin.plugin (`pytest_plugins`).
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlsplit

import pytest

from mlmax.common import MlmaxError

# botocore's errors that mean "this client tried to reach AWS" (by name: botocore is only
# looked at once the test has imported it).
_AWS_REACH_ERRORS = ("EndpointConnectionError", "ConnectTimeoutError", "NoCredentialsError")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class OwnSdkObjectOnlineError(MlmaxError):
    """A test's own SDK object tried to reach AWS under --smlocal."""


def aws_reach(error: BaseException | None) -> str | None:
    """The AWS endpoint an SDK object tried to reach (or "AWS" without one), else None."""
    exceptions = sys.modules.get("botocore.exceptions")
    seen: set[int] = set()
    while error is not None and id(error) not in seen and exceptions is not None:
        seen.add(id(error))
        for name in _AWS_REACH_ERRORS:
            kind = getattr(exceptions, name, None)
            if kind is not None and isinstance(error, kind):
                url = str(getattr(error, "kwargs", {}).get("endpoint_url", ""))
                host = urlsplit(url).hostname or ""
                if host not in _LOOPBACK:  # the embedded S3 is on loopback: not this case
                    return url or "AWS"
        error = error.__cause__ or error.__context__
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if not (report.failed and call.excinfo and item.config.getoption("--smlocal", default=False)):
        return report
    endpoint = aws_reach(call.excinfo.value)
    if endpoint is not None:
        from mlmax.pytest_plugin.report import failure_message

        error = OwnSdkObjectOnlineError(
            f"a SageMaker SDK object in this test tried to reach {endpoint} "
            f"({type(call.excinfo.value).__name__}); under --smlocal pass "
            "sagemaker_session=sm_session to every processor, estimator, trainer and model "
            "the test builds, so it runs offline in Local Mode"
        )
        report.longrepr = failure_message(error, item, call.excinfo)
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from mlmax.common import sdk_v2_sentence

    sentence = sdk_v2_sentence()
    if sentence is not None:
        terminalreporter.write_line(f"mlmax: {sentence}")
