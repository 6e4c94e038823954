"""A pipeline step's job request, changed so its script runs under debugpy.

The local pipeline executor hands each step's request (SageMaker's CreateProcessingJob or
CreateTrainingJob shape) to the local client, which starts the container with the request's
entrypoint. That entrypoint was fixed when the project built its pipeline (a trainer's is a
bash driver that starts `python3 train.py` itself), so it is kept and put behind a short
`python3 -c` that writes `step_launcher` as the container's `sitecustomize` and prepends its
folder to PYTHONPATH: the first Python process running a script from the step's code root
then re-executes itself under `DebugOptions.python_command()`. The image is the one
`ensure_debugpy_image` derives.
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path
from typing import Any

from mlmax.localmode.debug.command import DebugOptions
from mlmax.localmode.debug.readiness import code_root
from mlmax.localmode.debug.step_launcher import CODE_ROOT, INTERPRETER

LAUNCHER = Path(__file__).with_name("step_launcher.py")
# Where each kind of request keeps its container settings, and its image among them.
_SPECIFICATION = {
    "processing": ("AppSpecification", "ImageUri"),
    "training": ("AlgorithmSpecification", "TrainingImage"),
}
DEBUGGABLE_KINDS = tuple(_SPECIFICATION)


def _installer() -> str:
    """One line of Python that writes step_launcher as `sitecustomize.py` into a fresh folder,
    prepends that folder to PYTHONPATH and replaces itself by the entrypoint it is given.

    Python rather than `sh -c`: compose reads `$` in a service's entrypoint as one of its own
    variables, and this line has none."""
    packed = base64.b64encode(zlib.compress(LAUNCHER.read_bytes(), 9)).decode("ascii")
    return ";".join(
        [
            "import base64,os,sys,tempfile,zlib",
            "d=tempfile.mkdtemp(prefix='mlmax-step-')",
            "f=open(os.path.join(d,'sitecustomize.py'),'wb')",
            f"f.write(zlib.decompress(base64.b64decode('{packed}')))",
            "f.close()",
            "p=os.environ.get('PYTHONPATH')",
            "os.environ['PYTHONPATH']=d+(os.pathsep+p if p else '')",
            "os.execvp(sys.argv[1],sys.argv[1:])",
        ]
    )


def step_under_debugger(
    request: dict[str, Any], kind: str, options: DebugOptions
) -> dict[str, Any] | None:
    """`request` with its script under debugpy, in its image with debugpy added if it lacks
    it; None when it names no entrypoint to keep (the image's own command runs, which mlmax
    cannot put behind the launcher)."""
    from mlmax.localmode.image import ensure_debugpy_image

    spec_key, image_key = _SPECIFICATION[kind]
    specification = dict(request.get(spec_key) or {})
    entrypoint = list(specification.get("ContainerEntrypoint") or [])
    if not entrypoint:
        return None
    specification["ContainerEntrypoint"] = ["python3", "-c", _installer(), *entrypoint]
    specification[image_key] = ensure_debugpy_image(str(specification[image_key]))
    environment = {
        **(request.get("Environment") or {}),
        CODE_ROOT: code_root(kind),
        INTERPRETER: json.dumps(options.python_command()[1:]),  # without `python3`
    }
    return {**request, spec_key: specification, "Environment": environment}
