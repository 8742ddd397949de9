"""The package layout is a contract: imports flow down the pipeline, never up or sideways
into another package's private parts. ``docs/architecture.md`` describes the layers.

Why a test: a layout that is only described drifts; one import of a report helper from the
rule, or of a private module from the CLI, and the picture in the docs stops being true.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "workbench"

# Lower layers first. A module may import from its own layer's package or any lower layer.
LAYERS: list[set[str]] = [
    {"errors", "text", "redaction", "atomic", "jsonable"},  # foundation: standard library only
    {"config"},  # reading the user's files: YAML with lines, located problems, project paths
    {"checks"},  # parsing one output and judging it: pure functions
    {"prompts"},  # the prompt library and its sandboxed rendering
    {"suites"},  # suites: prompts × models × cases, validated
    {"importers"},  # other tools' configs (promptfoo) turned into prompts and a suite
    {"models"},  # one door to every model: transports, retries, prices
    {"store"},  # the SQLite store and its typed records
    {"engine"},  # plan, runner, session: suites become stored cells
    {"analysis"},  # statistics over stored cells
    {"playground"},  # a draft run on a few cases before it is saved: the TUI's playground
    {"escalation"},  # the fine-tune-or-not rule over a suite's history
    {"optimize"},  # automated prompt search: candidates measured, the best confirmed held out
    {"finetune"},  # training data and training, built on escalation's choice of version
    {"reports"},  # presentation: files and terminal text
    {"cli", "tui"},  # front ends: thin shells over everything above
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
PRESENTATION = {"reports", "cli", "tui"}


def subsystem(module: str) -> str:
    """``workbench.engine.runner`` → ``engine``; ``workbench.text`` → ``text``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def imports(path: Path, module: str) -> Iterator[tuple[int, str, str | None]]:
    """(line, imported module, imported name or None) for every import, lazy ones included."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                yield node.lineno, base, alias.name


def is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def violations(items: Iterator[tuple[str, Path]]) -> Iterator[str]:
    for module, path in items:
        here = subsystem(module)
        if here in ("", "__main__"):
            continue
        for line, target, name in imports(path, module):
            if target != "workbench" and not target.startswith("workbench."):
                continue
            if target == "workbench" and name is not None:  # from workbench import x
                target, name = f"workbench.{name}", None
            there = subsystem(target)
            shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            where = f"{shown}:{line}: imports {target}" + (
                f".{name}" if name else "")
            if there == here or there == "":
                continue
            if any(is_private(p) for p in target.split(".")[1:]) or (
                    name is not None and is_private(name)):
                yield f"{where}: a private name of another package"
            if there == "testing" and here != "testing":
                yield f"{where}: test support in the product"
            if here not in PRESENTATION and there in PRESENTATION:
                yield f"{where}: core code depending on presentation"
            elif there in RANK and here in RANK and RANK[there] > RANK[here]:
                yield f"{where}: an upward import ({here} sits below {there})"


def test_every_package_has_a_layer() -> None:
    packages = {subsystem(m) for m, _ in modules()} - {"", "__main__", "testing"}
    assert packages <= set(RANK), f"add {sorted(packages - set(RANK))} to LAYERS and the docs"


def test_imports_follow_the_layers() -> None:
    found = list(violations(modules()))
    assert not found, "\n".join(found)


def test_benchmarks_do_not_reach_into_the_tests() -> None:
    found = [f"{path.relative_to(ROOT)}:{line}: {target}"
             for path in sorted((ROOT / "bench").glob("*.py"))
             for line, target, _ in imports(path, "bench." + path.stem)
             if target == "tests" or target.startswith("tests.")]
    found += [str(p.relative_to(ROOT)) for p in sorted((ROOT / "bench").glob("*.py"))
              if "sys.path.insert" in p.read_text(encoding="utf-8")]
    assert not found, found


def test_the_docs_describe_every_package() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = sorted(p.name for p in PACKAGE.iterdir()
                      if p.is_dir() and (p / "__init__.py").exists())
    missing = [p for p in packages if f"`{p}/`" not in text]
    assert not missing, f"docs/architecture.md does not describe {missing}"


@pytest.mark.parametrize("name", sorted(__import__("workbench").__all__))
def test_the_public_api_resolves(name: str) -> None:
    import workbench

    assert getattr(workbench, name) is not None


def test_the_checker_catches_what_it_should(tmp_path: Path) -> None:
    """The rules must be able to fail: planted bad imports in a core module are each found."""
    path = tmp_path / "planted.py"
    path.write_text("from workbench.reports._common import done_cells\n"
                    "def f():\n"
                    "    from workbench.engine import runner\n"
                    "    from workbench.models import _local\n")
    found = list(violations(iter([("workbench.checks.planted", path)])))
    kinds = [f.rsplit(": ", 1)[1] for f in found]
    assert kinds == ["a private name of another package", "core code depending on presentation",
                     "an upward import (checks sits below engine)",
                     "a private name of another package",
                     "an upward import (checks sits below models)"], found
