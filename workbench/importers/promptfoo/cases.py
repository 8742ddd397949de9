"""promptfoo tests → the suite's cases and defaults.

Tests come inline, from ``file://`` test files (YAML, JSON, JSONL: test objects; CSV: one
row per test, with promptfoo's ``__expected``/``__description``/``__threshold`` columns),
and ``defaultTest`` applies to all. ``description`` becomes the case id; a var whose value
is a list of texts expands into one case per value, as promptfoo does; ``file://`` var
values are read now, the way promptfoo reads them at render time (text trimmed, YAML as
compact JSON). Test options that change the output (``transform``, ``postprocess``,
``prefix``, ``suffix``) have no equivalent and are reported.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from workbench.config.yaml import Loc, Located
from workbench.importers.promptfoo.assertions import AssertionMapper, from_string
from workbench.importers.promptfoo.files import GLOB_CHARS, Folder, Spot, is_file_ref, spot
from workbench.importers.promptfoo.outcome import Outcome
from workbench.importers.promptfoo.providers import grading_model

TEST_KEYS = {"description", "vars", "assert", "options", "threshold", "metadata"}
OUTPUT_OPTIONS = {"transform", "postprocess", "prefix", "suffix", "transformVars",
                  "storeOutputAs", "runSerially"}
CODE_SUFFIXES = (".py", ".js", ".cjs", ".mjs", ".ts")


@dataclass
class Cases:
    """What the tests became: cases, suite defaults, and the judge."""

    cases: list[dict[str, Any]] = field(default_factory=list)
    default_assert: list[dict[str, Any]] = field(default_factory=list)
    default_threshold: float | None = None
    judge: str | None = None
    default_vars: dict[str, Any] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)


class TestReader:
    """Reads ``defaultTest`` and ``tests`` of one config."""

    def __init__(self, folder: Folder, outcome: Outcome, mapper: AssertionMapper):
        self.folder = folder
        self.outcome = outcome
        self.mapper = mapper
        self.result = Cases()
        self.count = 0

    def read(self, doc: Located) -> Cases:
        self._default_test(doc)
        raw = doc.data.get("tests")
        if "scenarios" in doc.data:
            self.outcome.unsupported("scenarios", str(spot(doc, ("scenarios",))),
                                     "scenarios have no equivalent; list their tests")
        if raw is None:
            raise spot(doc, ()).problem("the config has no 'tests'",
                                        "add tests with vars and assertions")
        if isinstance(raw, str):
            self._source(raw, spot(doc, ("tests",)))
        elif isinstance(raw, list):
            for i, item in enumerate(raw):
                if isinstance(item, str):
                    self._source(item, spot(doc, ("tests", i)))
                else:
                    self._test(item, doc, ("tests", i))
        else:
            raise spot(doc, ("tests",)).problem("'tests' must be a list or a file reference")
        if not self.result.cases:
            raise spot(doc, ("tests",)).problem("no test could be imported",
                                                "see the table above for why")
        return self.result

    # -- defaultTest ---------------------------------------------------------------

    def _default_test(self, doc: Located) -> None:
        raw = doc.data.get("defaultTest")
        loc: Loc = ("defaultTest",)
        if raw is None:
            return
        if is_file_ref(raw):
            path = self.folder.resolve(raw, spot(doc, loc))
            doc, loc, raw = self.folder.load_doc(path), (), self.folder.load_doc(path).data
        if not isinstance(raw, dict):
            raise spot(doc, loc).problem("'defaultTest' must be a mapping")
        options = raw.get("options") or {}
        if isinstance(options, dict) and "provider" in options:
            judge = grading_model(options["provider"])
            where = str(spot(doc, (*loc, "options", "provider")))
            if judge:
                self.result.judge = judge
                self.outcome.converted("defaultTest options.provider", where,
                                       f"→ suite judge {judge}")
            else:
                self.outcome.unsupported("defaultTest options.provider", where,
                                         "no litellm equivalent for this grader")
        self._options(options, doc, (*loc, "options"), "defaultTest", skip={"provider"})
        if raw.get("vars") is not None:
            variables = self._vars(raw["vars"], doc, (*loc, "vars"), "defaultTest")
            self.result.default_vars = variables or {}
            self.outcome.converted("defaultTest vars", str(spot(doc, (*loc, "vars"))),
                                   "merged into every case's vars")
        self.result.default_assert = self.mapper.convert_list(
            raw.get("assert"), doc, (*loc, "assert"), "defaultTest")
        if isinstance(raw.get("threshold"), int | float):
            self.result.default_threshold = raw["threshold"]
            self.outcome.imported("defaultTest threshold", str(spot(doc, (*loc, "threshold"))))
        for key in sorted(set(raw) - {"vars", "assert", "options", "threshold"}):
            self.outcome.unsupported(f"defaultTest {key}", str(spot(doc, (*loc, key))),
                                     "no workbench equivalent")

    # -- test sources --------------------------------------------------------------

    def _source(self, ref: str, where: Spot) -> None:
        name = ref.removeprefix("file://")
        if name.lower().endswith(CODE_SUFFIXES) or ":" in name or "://" in name:
            self.outcome.unsupported(f"tests {ref}", str(where),
                                     "tests generated by code or fetched from a service "
                                     "cannot be imported; export them to CSV or YAML")
            return
        paths = (self.folder.glob(ref, where) if GLOB_CHARS & set(name)
                 else [self.folder.resolve(ref, where)])
        for path in paths:
            suffix = path.suffix.lower()
            if suffix == ".csv":
                for row, row_spot in self.folder.csv_rows(path):
                    self._csv_row(row, row_spot)
            elif suffix == ".jsonl":
                for item, item_spot in self.folder.jsonl_rows(path):
                    self._test(item, Located(item, item_spot.file, {(): item_spot.line or 1}),
                               ())
            elif suffix in (".yaml", ".yml", ".json"):
                sub = self.folder.load_doc(path)
                items = sub.data if isinstance(sub.data, list) else [sub.data]
                for i, item in enumerate(items):
                    self._test(item, sub, (i,) if isinstance(sub.data, list) else ())
            else:
                self.outcome.unsupported(f"tests {ref}", str(where),
                                         f"test files of type {suffix or '(none)'} are not read")

    def _csv_row(self, row: dict[str, str], where: Spot) -> None:
        test: dict[str, Any] = {"vars": {}, "assert": []}
        for key, value in row.items():
            if key.startswith("__expected"):
                if value.strip():
                    test["assert"].append(from_string(value.strip()))
            elif key == "__description":
                test["description"] = value
            elif key == "__threshold":
                try:
                    test["threshold"] = float(value)
                except ValueError:
                    raise where.problem(f"__threshold {value!r} is not a number") from None
            elif key.startswith("__"):
                self.outcome.unsupported(f"CSV column {key}", str(where),
                                         "no workbench equivalent")
            else:
                test["vars"][key] = value
        self._test(test, Located(test, where.file, {(): where.line or 1}), ())

    # -- one test ------------------------------------------------------------------

    def _test(self, item: Any, doc: Located, loc: Loc) -> None:
        where = spot(doc, loc)
        self.count += 1
        if not isinstance(item, dict):
            self.outcome.unsupported("test", str(where), "a test must be a mapping")
            return
        description = item.get("description")
        label = f"test {description!r}" if description else f"test {self.count}"
        for key in sorted(set(item) - TEST_KEYS):
            self.outcome.unsupported(f"{label} {key}", str(spot(doc, (*loc, key))),
                                     "per-test providers, prompts and outputs have no "
                                     "workbench equivalent")
        options = item.get("options") or {}
        judge = None
        if isinstance(options, dict) and "provider" in options:
            judge = grading_model(options["provider"])
        self._options(options, doc, (*loc, "options"), label, skip={"provider"})
        variables = self._vars(item.get("vars"), doc, (*loc, "vars"), label)
        if variables is None:
            self.outcome.unsupported(label, str(where), "left out: its vars could not be "
                                     "imported (see the var's row)")
            return
        if "metadata" in item:
            self.outcome.unsupported(f"{label} metadata", str(spot(doc, (*loc, "metadata"))),
                                     "not kept: cases have no metadata")
        raw_asserts = item.get("assert") or []
        if not isinstance(raw_asserts, list):
            self.outcome.unsupported(f"{label} assert", str(spot(doc, (*loc, "assert"))),
                                     "'assert' must be a list")
            raw_asserts = []
        asserts = []
        for i, spec in enumerate(raw_asserts):
            mapped = self.mapper.convert(spec, spot(doc, (*loc, "assert", i)), label, judge)
            if mapped is not None:
                asserts.append(mapped)
        base_id = _slug(str(description)) if description else f"test-{self.count}"
        combos = _combinations(variables)
        if len(combos) > 1:
            self.outcome.converted(f"{label} vars", str(where),
                                   f"list values expand into {len(combos)} cases")
        for n, combo in enumerate(combos, start=1):
            case: dict[str, Any] = {"id": self._unique(base_id if len(combos) == 1
                                                       else f"{base_id}-{n}")}
            if description:
                case["description"] = str(description)
            case["vars"] = {**self.result.default_vars, **combo}
            expected, rest = _expected(asserts)
            if expected is not None:
                case["expected"] = expected
            if rest:
                case["assert"] = copy.deepcopy(rest)
            if isinstance(item.get("threshold"), int | float):
                case["threshold"] = item["threshold"]
            case["_where"] = where  # for later rows about this case; removed before writing
            self.result.cases.append(case)
        notes = [f"{len(combos)} cases"] if len(combos) > 1 else []
        if _expected(asserts)[0] is not None:
            notes.append("its equals assertion → expected (the answer to fine-tune on)")
        self.outcome.imported(label, str(where), "; ".join(notes))

    def _options(self, options: Any, doc: Located, loc: Loc, label: str,
                 skip: set[str]) -> None:
        if not isinstance(options, dict):
            return
        for key in sorted(set(options) - skip):
            why = ("changes the output before it is checked; the workbench checks the "
                   "model's own output" if key in OUTPUT_OPTIONS else "no workbench equivalent")
            self.outcome.unsupported(f"{label} options.{key}", str(spot(doc, (*loc, key))), why)

    def _vars(self, raw: Any, doc: Located, loc: Loc, label: str) -> dict[str, Any] | None:
        if raw is None:
            return {}
        if is_file_ref(raw):
            path = self.folder.resolve(raw, spot(doc, loc))
            sub = self.folder.load_doc(path)
            self.outcome.converted(f"{label} vars", str(spot(doc, loc)), f"read from {raw}")
            raw, doc, loc = sub.data, sub, ()
        if not isinstance(raw, dict):
            self.outcome.unsupported(f"{label} vars", str(spot(doc, loc)),
                                     "vars must be a mapping")
            return None
        out: dict[str, Any] = {}
        for name, value in raw.items():
            where = spot(doc, (*loc, name))
            item = f"{label} var {name}"
            if is_file_ref(value):
                value = self._file_var(value, where, item)
                if value is None:
                    return None
            elif isinstance(value, str):
                if value.endswith("\n"):
                    value = value[:-1]
                if "{{" in value or "{%" in value:
                    self.outcome.unsupported(item, str(where),
                                             "promptfoo renders a var's own template; the "
                                             "workbench passes it as text")
            elif isinstance(value, bool) or value is None or isinstance(value, dict) or (
                    isinstance(value, list) and value and not isinstance(value[0], str)):
                self.outcome.converted(item, str(where),
                                       "a template that prints it whole shows it the Python "
                                       "way (True, None, {'a': 1}) where promptfoo printed "
                                       "JavaScript's (true, , [object Object])")
            elif isinstance(value, float) and value.is_integer():
                value = int(value)
            out[name] = value
        return out

    def _file_var(self, ref: str, where: Spot, item: str) -> str | None:
        name = ref.removeprefix("file://")
        suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if GLOB_CHARS & set(name) or suffix in ("py", "js", "cjs", "mjs", "ts", "pdf", "png",
                                                "jpg", "jpeg", "gif", "webp", "mp3", "wav",
                                                "mp4"):
            self.outcome.unsupported(item, str(where),
                                     "only text and YAML files can be read into a var "
                                     "(globs, scripts, PDFs and media cannot)")
            return None
        path = self.folder.resolve(ref, where)
        if suffix in ("yaml", "yml"):
            text = json.dumps(self.folder.load_doc(path).data, ensure_ascii=False,
                              separators=(",", ":"))
            self.outcome.converted(item, str(where), f"{ref} read as compact JSON")
            return text
        self.outcome.converted(item, str(where), f"{ref} read as text")
        return self.folder.read_text(path).strip()

    def _unique(self, wanted: str) -> str:
        name, n = wanted, 2
        while name in self.result.ids:
            name = f"{wanted}-{n}"
            n += 1
        self.result.ids.add(name)
        return name


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")
    return slug or "test"


def _combinations(variables: dict[str, Any]) -> list[dict[str, Any]]:
    """promptfoo runs one test per combination of list-of-text values."""
    names = list(variables)
    choices = [v if isinstance(v, list) and v and isinstance(v[0], str) else [v]
               for v in variables.values()]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


def _expected(asserts: list[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    """A test's one plain ``equals`` becomes ``expected`` (an answer to fine-tune on)."""
    plain = [a for a in asserts if a.get("type") == "equals" and set(a) == {"type", "value"}
             and isinstance(a["value"], str | int | float)]
    if len(plain) != 1:
        return None, asserts
    return plain[0]["value"], [a for a in asserts if a is not plain[0]]
