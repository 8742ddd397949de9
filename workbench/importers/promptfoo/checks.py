"""promptfoo ``python`` assertions → check files the workbench's ``python`` type runs.

promptfoo runs inline code as the body of ``main(output, context)`` (one line: ``return``
that expression) and a ``file://x.py[:fn]`` reference as ``get_assert`` (or ``fn``). Each
becomes one file beside the suite, holding the user's code unchanged plus ``check``, an
adapter that gives it promptfoo's context shape (``vars``, ``test``, ``prompt``,
``config``) and reads its result the way promptfoo does (a number passes when above 0
unless a threshold is set; ``"true"``/``"false"`` and JSON text are read; extra keys of a
result dict are dropped).
"""

from __future__ import annotations

import textwrap

from workbench.importers.promptfoo.files import Folder, Spot

ADAPTER = '''

# --- added by `workbench import promptfoo`: the workbench calls check(output, context) ---
def _promptfoo_context(context):
    variables = dict(context.get("vars") or {{}})
    return {{"vars": variables, "test": {{"vars": variables}}, "prompt": None, "config": {{}},
            "provider": None, "logProbs": None}}


def _workbench_result(value):
    import json

    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, str) and value.strip().startswith("{{"):
        value = json.loads(value)
    if isinstance(value, dict):
        if "pass_" in value and "pass" not in value:
            value = {{**value, "pass": value["pass_"]}}
        return {{key: value[key] for key in ("pass", "score", "reason") if key in value}}
    if isinstance(value, str):
        value = float(value)
    if {number_needs_positive} and isinstance(value, int | float) and not isinstance(value, bool):
        return {{"pass": value > 0, "score": value}}
    return value


def check(output, context):
    return _workbench_result({call}(output, _promptfoo_context(context)))
'''


class CheckFiles:
    """The check files an import writes, by name, in ``folder_name`` beside the suite."""

    def __init__(self, folder_name: str):
        self.folder_name = folder_name
        self.files: dict[str, str] = {}

    def _add(self, stem: str, text: str) -> str:
        name = f"{stem}.py"
        number = 2
        while name in self.files:
            name = f"{stem}_{number}.py"
            number += 1
        self.files[name] = text
        return f"{self.folder_name}/{name}"

    def from_code(self, code: str, where: Spot, has_threshold: bool) -> str:
        """Inline code: one line is an expression; several lines are a function body."""
        body = (textwrap.indent(textwrap.dedent(code).strip("\n"), "    ") if "\n" in code.strip()
                else f"    return {code.strip()}")
        text = (f'"""promptfoo python assertion from {where}, imported."""\n\nimport json  # '
                "noqa: F401 - promptfoo's snippets may use it\n\n\n"
                f"def promptfoo_main(output, context):\n{body}\n")
        text += ADAPTER.format(number_needs_positive=not has_threshold, call="promptfoo_main")
        return self._add(f"assert_{len(self.files) + 1}", text)

    def from_file(self, ref: str, where: Spot, folder: Folder, has_threshold: bool) -> str:
        """A ``file://check.py[:function]`` reference: its code, copied, plus the adapter."""
        name, _, function = ref.removeprefix("file://").partition(":")
        path = folder.resolve(name, where)
        source = folder.read_text(path)
        function = function or "get_assert"
        if not function.isidentifier():
            raise where.problem(f"{ref}: '{function}' is not a Python function name")
        text = (f"# promptfoo python assertion {ref} from {where}, copied by "
                "`workbench import promptfoo`\n" + source.rstrip("\n") + "\n")
        text += ADAPTER.format(number_needs_positive=not has_threshold, call=function)
        return self._add(path.stem, text)
