"""Every one-sentence error mlmax can print, found in its source (an AST scan), for the
troubleshooting page.

A message is found where it is written:
- `raise C(...)` of a class that derives from one of ROOTS (mlmax's `MlmaxError`, the jobs'
  `JobInputError`, the endpoint handler's `RequestError`, argparse's `ArgumentTypeError`);
- `super().__init__(...)` in such a class, when the class composes its own sentence;
- `parser.error(...)` and the `mlmax` command's `error(...)`;
- a failing readiness check, `mlmax doctor`'s lines and Docker's sentences: `Check(name,
  False, what was found, the fix)` or the tuple `(name, False, found, fix)`.

The message is the call's first argument: a string, an f-string (its fields shown as
`‹expression›`), a name assigned such texts in the same function, or a call of a function of
mlmax that returns them. A site whose message is a value handed on from elsewhere (a caught
error's text, another error's sentence passed on) is not a new sentence: `relayed` lists
them, and the page says where each is, so nothing is left out silently.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The tool and the census sample (whose jobs' sentences a user of the sample reads).
PACKAGES = (REPO / "mlmax", REPO / "mlmax_census")

# The classes whose messages a user reads, with the exit code they give (None: not an exit).
ROOTS = {
    "MlmaxError": 1,
    "UsageError": 2,  # mlmax.errors.UsageError, and pytest.UsageError (pytest exits 4)
    "JobInputError": 2,  # a job script's bad input: `error: <sentence>`, exit code 2
    "ArgumentTypeError": 2,  # argparse: a bad option value
    "RequestError": None,  # the endpoint handler: a 4xx answer with the sentence
}
# Where the sentence is among a class's arguments, when not first.
MESSAGE_ARGUMENT = {"RequestError": 1}


@dataclass(frozen=True)
class Site:
    """One place a message is written."""

    path: str  # relative to the repository
    line: int
    kind: str  # the exception class, `parser.error` or `error()`
    message: str  # the sentence, fields as ‹expression›
    exit_code: int | None


@dataclass(frozen=True)
class Relayed:
    """A raise or print whose text comes from elsewhere (not a sentence of its own)."""

    path: str
    line: int
    kind: str
    source: str


def _modules(packages: tuple[Path, ...]) -> Iterator[tuple[str, ast.Module]]:
    for package in packages:
        for path in sorted(package.rglob("*.py")):
            relative = str(path.relative_to(package.parent))
            yield relative, ast.parse(path.read_text(encoding="utf-8"), filename=relative)


def _base_names(node: ast.ClassDef) -> list[str]:
    names = []
    for base in node.bases:
        if isinstance(base, ast.Name):
            names.append(base.id)
        elif isinstance(base, ast.Attribute):
            names.append(base.attr)
    return names


def error_classes(modules: list[tuple[str, ast.Module]]) -> dict[str, int | None]:
    """Every class deriving (through any module) from ROOTS, with its exit code."""
    bases = {
        node.name: _base_names(node)
        for _, tree in modules
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    }
    codes: dict[str, int | None] = dict(ROOTS)
    changed = True
    while changed:
        changed = False
        for name, parents in bases.items():
            known = [codes[parent] for parent in parents if parent in codes]
            if name not in codes and known:
                # A usage error anywhere among the bases makes it one (exit code 2).
                codes[name] = 2 if 2 in known else known[0]
                changed = True
    return codes


def _field(node: ast.expr) -> str:
    """A field of an f-string as the page shows it: a name, else an ellipsis."""
    if isinstance(node, ast.Name | ast.Attribute):
        return ast.unparse(node)
    return "…"


def render(node: ast.expr) -> str | None:
    """A message's text: fields as ‹expression›; None when it is not written here."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                parts.append(f"‹{_field(value.value)}›")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = render(node.left), render(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.IfExp):
        body, other = render(node.body), render(node.orelse)
        return None if body is None or other is None else f"{body} | {other}"
    return None


def _assigned_values(function: ast.AST | None, name: str) -> list[ast.expr]:
    """What is assigned to `name` in `function`."""
    if function is None:
        return []
    return [
        node.value
        for node in ast.walk(function)
        if isinstance(node, ast.Assign)
        and any(isinstance(target, ast.Name) and target.id == name for target in node.targets)
    ]


def _returns(function: ast.FunctionDef) -> list[ast.expr]:
    """What `function` returns, but a `return None` (no message)."""
    return [
        node.value
        for node in ast.walk(function)
        if isinstance(node, ast.Return)
        and node.value is not None
        and not (isinstance(node.value, ast.Constant) and node.value.value in (None, ""))
    ]


def _callee(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


class _Scanner(ast.NodeVisitor):
    def __init__(
        self,
        path: str,
        codes: dict[str, int | None],
        composing: set[str],
        functions: dict[str, list[ast.FunctionDef]],
    ) -> None:
        self.path = path
        self.codes = codes
        self.composing = composing
        self.functions = functions
        self.sites: list[Site] = []
        self.relayed: list[Relayed] = []
        self._functions: list[ast.AST] = []
        self._classes: list[ast.ClassDef] = []

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._classes.append(node)
        self.generic_visit(node)
        self._classes.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._functions.append(node)
        self.generic_visit(node)
        self._functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Raise(self, node: ast.Raise) -> None:
        if isinstance(node.exc, ast.Call) and _callee(node.exc) in self.codes:
            kind = _callee(node.exc)
            self._message(node.exc, kind, self.codes[kind])
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        callee = _callee(node)
        func = node.func
        if callee == "error" and isinstance(func, ast.Attribute) and "parser" in ast.unparse(func):
            self._message(node, "parser.error", 2)
        elif callee == "error" and isinstance(func, ast.Name) and self.path.startswith("mlmax/cli"):
            self._message(node, "error()", None)
        elif callee == "Check" and len(node.args) >= 4:
            self._check(node.args)
        elif (
            callee == "__init__"
            and isinstance(func, ast.Attribute)
            and ast.unparse(func.value) == "super()"
            and self._classes
            and self._classes[-1].name in self.composing
        ):
            kind = self._classes[-1].name
            self._message(node, kind, self.codes[kind], own_sentence=True)
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if isinstance(node.value, ast.Tuple) and len(node.value.elts) == 4:
            self._check(node.value.elts)
        self.generic_visit(node)

    def _check(self, fields: list[ast.expr]) -> None:
        """A failing check: what was found, then the fix (as `mlmax doctor` prints it)."""
        name, ok, found, fix = fields[:4]
        if not (isinstance(ok, ast.Constant) and ok.value is False):
            return
        scope = self._scope()
        founds, fixes = self._texts(found, scope), self._texts(fix, scope)
        labels = self._texts(name, scope)
        if founds is None or fixes is None:
            self.relayed.append(Relayed(self.path, found.lineno, "check", ast.unparse(found)))
            return
        label = labels[0] if labels else ast.unparse(name)
        for text in founds:
            message = f"✗ {label}: {text} — {fixes[0]}"
            self.sites.append(Site(self.path, found.lineno, "failing check", message, 1))

    def _scope(self) -> ast.FunctionDef | None:
        return self._functions[-1] if self._functions else None  # type: ignore[return-value]

    def _texts(self, node: ast.expr, scope: ast.FunctionDef | None) -> list[str] | None:
        """The texts `node` can be in `scope`: written there, assigned to a name, or returned
        by a call of a function of mlmax (resolved in that function)."""
        text = render(node)
        if text is not None:
            return [text]
        if isinstance(node, ast.Name):
            values = _assigned_values(scope, node.id)
            return self._all(values, scope) if values else None
        if isinstance(node, ast.IfExp):
            return self._all([node.body, node.orelse], scope)
        if isinstance(node, ast.Call):
            texts: list[str] = []
            for function in self._called(node):
                found = self._all(_returns(function), function)
                if found is None:
                    return None
                texts += found
            return texts or None
        return None

    def _all(self, nodes: list[ast.expr], scope: ast.FunctionDef | None) -> list[str] | None:
        texts: list[str] = []
        for node in nodes:
            found = self._texts(node, scope)
            if found is None:
                return None
            texts += found
        return texts

    def _called(self, call: ast.Call) -> list[ast.FunctionDef]:
        """The functions of mlmax a call may run: a module's function, or `self.method()`."""
        func = call.func
        if isinstance(func, ast.Name):
            return self.functions.get(func.id, [])
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "self"
            and self._classes
        ):
            body = self._classes[-1].body
            return [f for f in body if isinstance(f, ast.FunctionDef) and f.name == func.attr]
        return []

    def _message(
        self, call: ast.Call, kind: str, exit_code: int | None, own_sentence: bool = False
    ) -> None:
        """The sentence of a raise or a print; for a class that composes its sentence from
        its arguments, the sentence in its __init__ (`own_sentence`) and the `reason` a raise
        gives it."""
        scope = self._scope()
        position = MESSAGE_ARGUMENT.get(kind, 0)
        given = call.args[position] if len(call.args) > position else None
        reason = next((k.value for k in call.keywords if k.arg == "reason"), None)
        if kind in self.composing:
            # Its own sentence, or a reason that one of its subclasses or raises hands it;
            # a reason passed on from a parameter is listed where it is written.
            parameters = {a.arg for a in scope.args.args} if scope is not None else set()
            candidates = [given] if own_sentence else []
            if reason is not None and not (
                isinstance(reason, ast.Name) and reason.id in parameters
            ):
                candidates.append(reason)
            for node in candidates:
                texts = self._texts(node, scope) if node is not None else None
                if texts is not None:
                    self._add(call, kind, texts, exit_code)
                    return
            if own_sentence and reason is None and given is not None:
                self.relayed.append(Relayed(self.path, call.lineno, kind, ast.unparse(given)))
            return
        if given is None:
            return  # no text of its own
        texts = self._texts(given, scope)
        if texts is None:
            self.relayed.append(Relayed(self.path, call.lineno, kind, ast.unparse(given)))
            return
        self._add(call, kind, texts, exit_code)

    def _add(self, call: ast.Call, kind: str, texts: list[str], exit_code: int | None) -> None:
        for message in texts:
            self.sites.append(Site(self.path, call.lineno, kind, message, exit_code))


def _classes_composing_their_sentence(modules: list[tuple[str, ast.Module]]) -> set[str]:
    """Classes with an __init__ of their own: their sentence is written there, from their
    arguments (but for those that only take it at MESSAGE_ARGUMENT)."""
    found = set()
    for _, tree in modules:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name not in MESSAGE_ARGUMENT:
                body = node.body
                if any(isinstance(f, ast.FunctionDef) and f.name == "__init__" for f in body):
                    found.add(node.name)
    return found


def scan(*packages: Path) -> tuple[list[Site], list[Relayed]]:
    """Every message site of the packages (default: mlmax's and the sample's), and every
    relayed one."""
    modules = list(_modules(packages or PACKAGES))
    codes = error_classes(modules)
    composing = _classes_composing_their_sentence(modules) & set(codes)
    functions: dict[str, list[ast.FunctionDef]] = {}
    for _, tree in modules:
        for node in tree.body:  # a module's own functions, the ones messages come from
            if isinstance(node, ast.FunctionDef):
                functions.setdefault(node.name, []).append(node)
    sites: list[Site] = []
    relayed: list[Relayed] = []
    for path, tree in modules:
        scanner = _Scanner(path, codes, composing, functions)
        scanner.visit(tree)
        sites += scanner.sites
        relayed += scanner.relayed
    return sites, relayed
