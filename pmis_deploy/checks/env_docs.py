"""ENV_VARS.md documents every environment variable the system reads, and nothing else.

Required (must be documented): variables read in apps/ (os.environ / os.getenv / env.get in Python,
pydantic BaseSettings fields, process.env in the web app), `${VAR}` references in the compose files,
the plain aliases and PMIS_ENV of pmis_deploy.config, and pmis_deploy.envvars.RUNTIME_VARIABLES (what the
task definitions and Cloud Run specs set). A documented name is "used" when it is required, read by this
repository's own code (pmis_deploy/, tasks/, scripts/, noxfile.py, workflows), or a PMIS_* override of an
existing settings key (PMIS_AWS__REGION → aws.region).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from pmis_deploy.checks.outcome import CheckContext, Finding, Outcome, Verdict

DOC = "ENV_VARS.md"
_NAME = r"([A-Z][A-Z0-9_]*[A-Z0-9])"
_PY_READ = re.compile(
    rf"""(?:\b(?:environ|env)\s*(?:\.get\(|\.pop\(|\.setdefault\(|\[)|\bgetenv\(|\benviron\.get\()\s*["']{_NAME}["']"""
)
_JS_READ = re.compile(rf"""\bprocess\.env(?:\.{_NAME}|\[\s*["']{_NAME}["']\s*\])""")
_COMPOSE_REF = re.compile(rf"(?<!\$)\$\{{{_NAME}(?:[:?\-+][^}}]*)?\}}|(?<!\$)\${_NAME}\b")
_SHELL_REF = re.compile(rf"(?<![$\w])\$\{{?{_NAME}\b")
_DOC_NAME = re.compile(rf"`{_NAME}`")
SKIP_DIRS = {"node_modules", ".next", "__pycache__", ".venv", ".nox", "tests", "test", "__tests__"}
PLATFORM_SET = {"NODE_ENV"}  # set by Next.js itself, not by the deployment
JS_SUFFIXES = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs")


def check(ctx: CheckContext) -> Verdict:
    doc = ctx.root / DOC
    if not doc.is_file():
        return Verdict(Outcome.FAIL, f"{DOC} not found: document every variable in a table", [Finding(DOC, "missing")])
    documented = documented_names(doc.read_text())
    required = required_names(ctx.root)
    used = {**required, **own_reads(ctx.root)}
    findings = [
        Finding(where, f"{name} is read but not documented in {DOC}")
        for name, where in sorted(required.items())
        if name not in documented
    ]
    findings += [
        Finding(f"{DOC}:{line}", f"{name} is documented but nothing reads it")
        for name, line in sorted(documented.items())
        if name not in used and not settings_override(name)
    ]
    summary = f"{len(documented)} documented, {len(required)} required (apps, compose, config, task definitions)"
    if findings:
        return Verdict(Outcome.FAIL, f"{len(findings)} problem(s); {summary}", findings)
    return Verdict(Outcome.PASS, summary)


def documented_names(text: str) -> dict[str, int]:
    """Backticked names in the first column of the markdown tables → line number."""
    names: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        cells = line.strip().split("|")
        if not line.lstrip().startswith("|") or len(cells) < 3:
            continue
        for name in _DOC_NAME.findall(cells[1]):
            names.setdefault(name, number)
    return names


def required_names(root: Path) -> dict[str, str]:
    """Every variable that must be documented → where it is first read."""
    from pmis_deploy.config import ALIASES
    from pmis_deploy.envvars import RUNTIME_VARIABLES

    found: dict[str, str] = {}
    apps = root / "apps"
    for path in _files(apps, (".py",)):
        _add(found, python_reads(path, root))
    for path in _files(apps, JS_SUFFIXES):
        _add(found, ((n, w) for n, w in _regex_reads(path, root, _JS_READ) if n not in PLATFORM_SET))
    for path in sorted(root.glob("docker-compose*.y*ml")):
        _add(found, _regex_reads(path, root, _COMPOSE_REF))
    _add(found, ((name, "pmis_deploy/config.py (ALIASES)") for name in ALIASES))
    _add(found, [("PMIS_ENV", "pmis_deploy/config.py")])
    _add(found, ((name, "pmis_deploy/envvars.py (RUNTIME_VARIABLES)") for name in RUNTIME_VARIABLES))
    return found


def own_reads(root: Path) -> dict[str, str]:
    """Variables this repository's own tooling reads (allowed in the docs, not required there)."""
    found: dict[str, str] = {}
    for folder in ("pmis_deploy", "tasks", "scripts"):
        for path in _files(root / folder, (".py",)):
            _add(found, python_reads(path, root))
        for path in _files(root / folder, ("",)):
            if path.suffix == "" and path.is_file():
                _add(found, _regex_reads(path, root, _SHELL_REF))
    if (root / "noxfile.py").is_file():
        _add(found, python_reads(root / "noxfile.py", root))
    for path in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        _add(found, _regex_reads(path, root, re.compile(rf"\b(?:env|vars|secrets)\.{_NAME}\b")))
    return found


def python_reads(path: Path, root: Path) -> Iterator[tuple[str, str]]:
    """os.environ[...] / .get / os.getenv / env.get reads, and pydantic BaseSettings fields."""
    yield from _regex_reads(path, root, _PY_READ)
    text = path.read_text(encoding="utf-8", errors="replace")
    if "BaseSettings" not in text:
        return
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return
    rel = str(path.relative_to(root))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(_base_name(b) == "BaseSettings" for b in node.bases):
            prefix = _env_prefix(node)
            for item in node.body:
                target = item.target if isinstance(item, ast.AnnAssign) else None
                if isinstance(target, ast.Name) and target.id != "model_config":
                    yield (prefix + target.id).upper(), f"{rel}:{item.lineno}"


def settings_override(name: str) -> bool:
    """PMIS_A__B_C names a real settings key a.b_c (documented overrides are "used")."""
    if not name.startswith("PMIS_") or "__" not in name:
        return False
    from pydantic import BaseModel

    from pmis_deploy.config import Settings

    model: type[BaseModel] = Settings
    parts = name.removeprefix("PMIS_").lower().split("__")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if i < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def _base_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def _env_prefix(cls: ast.ClassDef) -> str:
    for item in cls.body:
        if isinstance(item, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "model_config" for t in item.targets
        ):
            for kw in getattr(item.value, "keywords", []):
                if kw.arg == "env_prefix" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    return kw.value.value
    return ""


def _regex_reads(path: Path, root: Path, pattern: re.Pattern[str]) -> Iterator[tuple[str, str]]:
    rel = str(path.relative_to(root))
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return
    for number, line in enumerate(text.splitlines(), 1):
        for match in pattern.finditer(line):
            name = next(g for g in match.groups() if g)
            yield name, f"{rel}:{number}"


def _files(folder: Path, suffixes: tuple[str, ...]) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if any(part in SKIP_DIRS for part in path.relative_to(folder).parts[:-1]) or not path.is_file():
            continue
        if path.name.startswith("test_") or path.name == "conftest.py":
            continue
        if suffixes == ("",) or path.suffix in suffixes:
            yield path


def _add(found: dict[str, str], reads: Iterable[tuple[str, str]]) -> None:
    for name, where in reads:
        found.setdefault(name, where)
