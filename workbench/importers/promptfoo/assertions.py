"""promptfoo assertions → workbench assertions.

Every promptfoo type with an equivalent maps to it, ``not-`` forms and ``weight`` included;
``python`` code becomes a check file beside the suite (:mod:`.checks`). Types without an
equivalent (``javascript``, the RAG and model-graded families, ``rouge-n``, …) are reported
with the reason. CSV ``__expected`` cells are parsed the way promptfoo parses them
(:func:`from_string`).
"""

from __future__ import annotations

import re
from typing import Any

from workbench.config.yaml import Loc, Located
from workbench.importers.promptfoo.checks import CheckFiles
from workbench.importers.promptfoo.files import Folder, Spot, is_file_ref, spot
from workbench.importers.promptfoo.outcome import Outcome
from workbench.importers.promptfoo.providers import grading_model

SAME = {"equals", "contains", "icontains", "regex", "starts-with", "contains-any",
        "contains-all", "is-json", "contains-json", "llm-rubric", "similar", "latency", "cost",
        "python"}
RENAMED = {"icontains-any": ("contains-any", True), "icontains-all": ("contains-all", True)}
WHY_NOT = {
    "javascript": "JavaScript cannot run here; rewrite it as a python check",
    "is-valid-openai-tools-call": "the workbench records a reply's text, not its tool calls",
    "is-valid-openai-function-call": "the workbench records a reply's text, not its calls",
    "rouge-n": "no ROUGE-N type; 'similar' measures ROUGE-L",
    "levenshtein": "no edit-distance type",
    "assert-set": "assertion groups have no equivalent; list the assertions one by one",
    "select-best": "comparing outputs across prompts has no per-cell equivalent",
    "perplexity": "needs token log-probabilities, which are not recorded",
    "perplexity-score": "needs token log-probabilities, which are not recorded",
}
ALL_PROMPTFOO = (
    "equals|contains-any|contains-all|icontains-any|icontains-all|contains-json|is-json|regex|"
    "icontains|contains|starts-with|similar|levenshtein|rouge-n|latency|cost|perplexity-score|"
    "perplexity|llm-rubric|model-graded-factuality|factuality|model-graded-closedqa|"
    "answer-relevance|context-recall|context-relevance|context-faithfulness|classifier|"
    "moderation|webhook|is-valid-openai-function-call|is-valid-openai-tools-call|is-sql|"
    "contains-sql|is-xml|contains-xml|is-html|contains-html|select-best|bleu|gleu|meteor|"
    "g-eval|finish-reason|is-refusal|word-count"
)
_FROM_STRING = re.compile(rf"^(not-)?({ALL_PROMPTFOO})(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$")


def from_string(text: str) -> dict[str, Any]:
    """A CSV ``__expected`` cell as promptfoo reads it (``contains:x``, ``grade:…``, plain
    text = equals)."""
    for prefix, kind in (("javascript:", "javascript"), ("fn:", "javascript"),
                         ("eval:", "javascript"), ("grade:", "llm-rubric"),
                         ("llm-rubric:", "llm-rubric"), ("python:", "python")):
        if text.startswith(prefix):
            return {"type": kind, "value": text[len(prefix):].strip()
                    if kind != "llm-rubric" else text[len(prefix):]}
    if text.startswith("file://") and (text.endswith(".py") or ".py:" in text):
        return {"type": "python", "value": text}
    match = _FROM_STRING.match(text)
    if not match:
        return {"type": "equals", "value": text}
    negate, kind, threshold, value = match.groups()
    data: dict[str, Any] = {"type": f"{negate or ''}{kind}"}
    if kind in ("contains-any", "contains-all", "icontains-any", "icontains-all"):
        if value is not None:
            data["value"] = split_commas(value)
    elif value is not None:
        data["value"] = value if kind in ("contains-json", "is-json") else value.strip()
    if threshold is not None:
        data["threshold"] = float(threshold)
    elif kind == "similar":
        data["threshold"] = 0.75
    return data


def split_commas(text: str) -> list[str]:
    """promptfoo's comma lists: ``a, b, "c, d"`` → ``[a, b, c, d]``."""
    out: list[str] = []
    for match in re.finditer(r'\s*(?:"((?:[^"\\]|\\.|"")*)"|([^,]*))\s*(?:,|$)', text):
        quoted, plain = match.groups()
        if quoted is not None:
            out.append(quoted.replace('""', '"').replace('\\"', '"'))
        elif plain and plain.strip():
            out.append(plain.strip())
        if match.end() >= len(text):
            break
    return out


class AssertionMapper:
    """Converts assertions, writing python checks into ``checks`` as it goes."""

    def __init__(self, folder: Folder, outcome: Outcome, checks: CheckFiles):
        self.folder = folder
        self.outcome = outcome
        self.checks = checks

    def convert_list(self, items: Any, doc: Located, loc: Loc, owner: str) -> list[dict]:
        if items is None:
            return []
        if not isinstance(items, list):
            self.outcome.unsupported(f"{owner} assert", str(spot(doc, loc)),
                                     "'assert' must be a list")
            return []
        out = []
        for i, item in enumerate(items):
            mapped = self.convert(item, spot(doc, (*loc, i)), owner)
            if mapped is not None:
                out.append(mapped)
        return out

    def convert(self, item: Any, where: Spot, owner: str,
                judge: str | None = None) -> dict[str, Any] | None:
        """One assertion (None when unsupported); ``judge`` is the test's grader, if any."""
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            self.outcome.unsupported(f"{owner} assert", str(where),
                                     "an assertion must be a mapping with a 'type'")
            return None
        full = item["type"]
        negate = full.startswith("not-")
        kind = full.removeprefix("not-")
        label = f"{owner} assert {full}"
        extra = sorted(set(item) - {"type", "value", "weight", "threshold", "provider",
                                    "metric"})
        if kind in WHY_NOT or kind not in SAME | set(RENAMED):
            why = WHY_NOT.get(kind, "no workbench equivalent")
            self.outcome.unsupported(label, str(where), why)
            return None
        if extra:
            self.outcome.unsupported(label, str(where),
                                     f"{', '.join(extra)} cannot be imported, so the assertion "
                                     "would check something else; rewrite it without them")
            return None
        notes: list[str] = []
        if "metric" in item:
            notes.append(f"metric {item['metric']!r} dropped (the report lists assertions "
                         "by type)")
        value = item.get("value")
        if is_file_ref(value) and kind != "python":
            value = self._file_value(value, where)
            notes.append(f"{item['value']} read into the value")
        out = self._map(kind, value, item, where, notes, judge)
        if out is None:
            self.outcome.unsupported(label, str(where), "; ".join(notes) or "unusable value")
            return None
        if negate:
            out["type"] = "not-" + out["type"]
        if "weight" in item:
            out["weight"] = item["weight"]
        if notes or out["type"].removeprefix("not-") != kind:
            self.outcome.converted(label, str(where),
                                   f"→ {out['type']}" + (f" ({'; '.join(notes)})" if notes
                                                         else ""))
        else:
            self.outcome.imported(label, str(where))
        return out

    def _map(self, kind: str, value: Any, item: dict[str, Any], where: Spot,
             notes: list[str], judge: str | None) -> dict[str, Any] | None:
        threshold = item.get("threshold")
        if kind in RENAMED:
            kind, _ = RENAMED[kind]
            out = self._phrases(kind, value, notes)
            if out is not None:
                out["ignore_case"] = True
            return out
        if kind in ("contains-any", "contains-all"):
            return self._phrases(kind, value, notes)
        if kind == "equals":
            if isinstance(value, dict | list):
                notes.append("a JSON value: compared as json-path $")
                return {"type": "json-path", "path": "$", "value": value}
            return {"type": "equals", "value": "" if value is None else value}
        if kind in ("contains", "icontains", "starts-with"):
            return {"type": kind, "value": value} if value not in (None, "") else None
        if kind == "regex":
            return {"type": "regex", "value": self._regex(value, notes)} if value else None
        if kind in ("is-json", "contains-json"):
            if value is None:
                return {"type": kind}
            if isinstance(value, str):
                notes.append("a schema given as text is not read; give it as a mapping")
                return None
            if kind == "is-json":
                notes.append("is-json with a schema → json-schema")
                return {"type": "json-schema", "schema": value}
            return {"type": kind, "schema": value}
        if kind == "llm-rubric":
            if not isinstance(value, str):
                notes.append("the rubric must be text")
                return None
            out = {"type": "llm-rubric", "value": value}
            model = grading_model(item["provider"]) if "provider" in item else judge
            if model:
                out["model"] = model
            if threshold is not None:
                out["threshold"] = threshold
            return out
        if kind == "similar":
            if not isinstance(value, str):
                notes.append("several references (a list) have no equivalent")
                return None
            cut = threshold if threshold is not None else 0.75
            notes.append(f"lexical (ROUGE-L) similarity at promptfoo's threshold {cut}: a "
                         "run has no embedding backend, and lexical scores run lower than "
                         "embedding cosines")
            return {"type": "similar", "value": value, "threshold": cut}
        if kind in ("latency", "cost"):
            if threshold is None:
                notes.append(f"{kind} needs a threshold")
                return None
            notes.append(f"threshold → {'max_ms' if kind == 'latency' else 'max'}")
            return ({"type": "latency", "max_ms": threshold} if kind == "latency"
                    else {"type": "cost", "max": threshold})
        if kind == "python":
            if not isinstance(value, str) or not value.strip():
                notes.append("python needs code or a file:// reference")
                return None
            file = (self.checks.from_file(value, where, self.folder, threshold is not None)
                    if is_file_ref(value)
                    else self.checks.from_code(value, where, threshold is not None))
            notes.append(f"→ check file {file}")
            out = {"type": "python", "file": file, "function": "check"}
            if threshold is not None:
                out["threshold"] = threshold
            return out
        return None

    def _phrases(self, kind: str, value: Any, notes: list[str]) -> dict[str, Any] | None:
        if isinstance(value, str):
            value = split_commas(value)
            notes.append("comma-separated text → list")
        if not isinstance(value, list) or not value:
            return None
        return {"type": kind, "value": value}

    def _regex(self, pattern: str, notes: list[str]) -> str:
        """JavaScript's named groups are spelled differently in Python."""
        converted = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", str(pattern))
        converted = re.sub(r"\\k<([A-Za-z_]\w*)>", r"(?P=\1)", converted)
        if converted != pattern:
            notes.append("JavaScript named groups → Python syntax")
        return converted

    def _file_value(self, ref: str, where: Spot) -> Any:
        path = self.folder.resolve(ref, where)
        if path.suffix.lower() in (".json", ".yaml", ".yml"):
            return self.folder.load_doc(path).data
        return self.folder.read_text(path)
