"""Endpoints a project declares (`[tool.mlmax.endpoints.<name>]`): read, defaulted, and each
mistake named in one sentence with its fix; `mlmax serve NAME` refuses what it cannot serve
in one line, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlmax.cli import main
from mlmax.project import DeclarationError, current_project, load_project

GOOD = """
[project]
name = "shapes"

[tool.mlmax.endpoints.forest]
script = "src/shapes/fit.py"
model = "out/model"

[tool.mlmax.endpoints.wide]
script = "src/shapes/serve/handler.py"
source_dir = "src/shapes"
"""


def make_project(root: Path, pyproject: str = GOOD) -> Path:
    (root / "src" / "shapes" / "serve").mkdir(parents=True)
    (root / "src" / "shapes" / "fit.py").write_text("def model_fn(model_dir):\n    return 1\n")
    (root / "src" / "shapes" / "serve" / "handler.py").write_text("")
    (root / "pyproject.toml").write_text(pyproject)
    return root / "pyproject.toml"


def test_a_declared_endpoint_gets_its_script_folder_and_model(tmp_path):
    project = load_project(make_project(tmp_path))
    forest, wide = project.endpoint("forest"), project.endpoint("wide")
    assert (forest.script, forest.source_dir) == ("fit.py", tmp_path / "src" / "shapes")
    assert forest.model_dir == tmp_path / "out" / "model"
    assert forest.project == "shapes"
    assert (wide.script, wide.source_dir, wide.model_dir) == (
        "serve/handler.py",
        tmp_path / "src" / "shapes",
        None,
    )
    assert wide.script_path.is_file()
    # A project that declares only endpoints is a project.
    assert current_project(tmp_path / "src").endpoints.keys() == {"forest", "wide"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('script = "src/shapes/fit.py"\n', ""),
         r"\[tool\.mlmax\.endpoints\.forest\] has no script; add script = "),
        (('script = "src/shapes/fit.py"', 'script = "src/shapes/gone.py"'),
         r"\[tool\.mlmax\.endpoints\.forest\] script .*gone\.py does not exist; set script to "),
        (('model = "out/model"', 'model = "out/model"\nkind = "training"'),
         r"\[tool\.mlmax\.endpoints\.forest\] has unknown key 'kind'; use only model, script, "
         r"source_dir"),
        (('source_dir = "src/shapes"', 'source_dir = "src/shapes/serve/x"'),
         r"\[tool\.mlmax\.endpoints\.wide\] source_dir .* is not a folder"),
        (('source_dir = "src/shapes"', 'source_dir = "src"\nmodel = 3'),
         r"\[tool\.mlmax\.endpoints\.wide\] model is not a non-empty string"),
        (("[tool.mlmax.endpoints.wide]", "[tool.mlmax.endpoints.'a b']"),
         r"\[tool\.mlmax\.endpoints\.a b\] is not a usable endpoint name"),
    ],
)  # fmt: skip
def test_a_bad_endpoint_declaration_names_the_key_and_the_fix(tmp_path, change, message):
    old, new = change
    assert old in GOOD
    pyproject = make_project(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(DeclarationError, match=message) as raised:
        load_project(pyproject)
    assert str(raised.value).startswith(f"{pyproject}: ")
    assert "\n" not in str(raised.value)


def test_a_script_that_is_not_python_is_refused(tmp_path):
    pyproject = make_project(tmp_path, GOOD.replace("fit.py", "fit.txt", 1))
    (tmp_path / "src" / "shapes" / "fit.txt").write_text("")
    with pytest.raises(DeclarationError, match=r"fit\.txt is not a \.py file; point it at a"):
        load_project(pyproject)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["serve", "nothing"], "project shapes declares no endpoint 'nothing' (declared: forest, "
         "wide); declare it as [tool.mlmax.endpoints.nothing] in "),
        (["serve", "wide"], "endpoint 'wide' declares no model; pass --model-dir"),
        (["serve", "forest"], "the model directory {root}/out/model of endpoint 'forest' does "
         "not exist; train the model first or pass --model-dir"),
        (["serve", "forest", "--proc-model-dir", "x"], "--proc-model-dir is for mlmax's census "
         "model; a declared endpoint's model_fn reads everything from --model-dir"),
    ],
)  # fmt: skip
def test_mlmax_serve_name_refuses_what_it_cannot_serve_in_one_line(
    tmp_path, monkeypatch, capsys, arguments, message
):
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(arguments) == 2
    err = capsys.readouterr().err.strip()
    assert message.format(root=tmp_path) in err
    assert "\n" not in err and "Traceback" not in err


def test_mlmax_serve_name_outside_a_project_says_where_to_declare_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "forest"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no project here declares endpoint 'forest'" in err
    assert "[tool.mlmax.endpoints.forest]" in err
