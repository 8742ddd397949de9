# ruff: noqa: E501  (exact one-line messages are the data under test)
"""The bad-input corpus: files, a command, and the exact message it must print (exit 2)."""

from __future__ import annotations

ECHO_V1 = """kind: zero-shot
messages:
  - role: user
    content: "Ticket: {{ ticket }}"
parse:
  type: label
  choices: [billing, shipping]
"""

SUITE = """name: s
prompts: [echo]
cases:
  - id: a
    vars: {ticket: hello}
    expected: billing
"""


def suite_with(**replace: str) -> str:
    text = SUITE
    for old, new in replace.items():
        text = text.replace(old.replace("_", " "), new)
    return text


# (id, files, argv, expected stderr)
CORPUS: list[tuple[str, dict[str, str], list[str], str]] = [
    ("yaml-syntax", {"suites/s.yaml": "name: s\nprompts: [echo\ncases: []\n"},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:3: invalid YAML: expected ',' or ']', but got ':' (check indentation and quoting)\n"),
    ("yaml-duplicate-key", {"suites/s.yaml": SUITE + "name: t\n"},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:7: duplicate key 'name' (first at line 1) (remove one of them)\n"),
    ("suite-not-a-mapping", {"suites/s.yaml": "- a\n- b\n"}, ["validate", "suites/s.yaml"], 'error: suites/s.yaml:1: a suite must be a mapping with name, prompts and cases\n'),
    ("suite-file-missing", {}, ["validate", "suites/none.yaml"], 'error: suites/none.yaml: file not found\n'),
    ("suite-unknown-key", {"suites/s.yaml": SUITE + "rerun: 3\n"},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:7: unknown key 'rerun' (did you mean 'reruns'? allowed keys: name, description, prompts, models, reruns, params, concurrency, timeout, max_attempts, seed, judge, defaults, cases, thresholds, escalation)\n"),
    ("suite-missing-cases", {"suites/s.yaml": "name: s\nprompts: [echo]\n"},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:1: cases: required key is missing (add 'cases')\n"),
    ("suite-reruns-zero", {"suites/s.yaml": SUITE + "reruns: 0\n"},
     ["validate", "suites/s.yaml"], 'error: suites/s.yaml:7: reruns: input should be greater than or equal to 1 (got 0)\n'),
    ("suite-reruns-text", {"suites/s.yaml": SUITE + "reruns: five\n"},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:7: reruns: input should be a valid integer, unable to parse string as an integer (got 'five')\n"),
    ("suite-threshold-range", {"suites/s.yaml": SUITE + "thresholds:\n  pass_rate: 80\n"},
     ["validate", "suites/s.yaml"], 'error: suites/s.yaml:8: thresholds.pass_rate: input should be less than or equal to 1 (got 80)\n'),
    ("dangling-prompt", {"suites/s.yaml": SUITE.replace("[echo]", "[ecko]")},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:2: prompts[0]: unknown prompt 'ecko' (did you mean 'echo'?)\n"),
    ("dangling-version", {"suites/s.yaml": SUITE.replace("[echo]", "[echo@9]")},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:2: prompts[0]: prompt 'echo' has no version 9 (versions: 1)\n"),
    ("dangling-label", {"suites/s.yaml": SUITE.replace("[echo]", "[echo@staging]")},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:2: prompts[0]: prompt 'echo' has no label 'staging' (labels: none)\n"),
    ("bad-ref-syntax", {"suites/s.yaml": SUITE.replace("[echo]", "['Echo Prompt']")},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:2: prompts[0]: 'Echo Prompt' is not a prompt reference (use name, name@3 or name@label; names are lower-case letters, digits, '-', '_' and '.')\n"),
    ("duplicate-case-id", {"suites/s.yaml": SUITE + "  - id: a\n    vars: {ticket: x}\n"},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:7: duplicate case id 'a' (first at suites/s.yaml:4) (case ids must be unique; rename one)\n"),
    ("duplicate-id-across-files",
     {"suites/s.yaml": SUITE + "  - file: more.csv\n", "suites/more.csv": "id,ticket\na,hi\n"},
     ["validate", "suites/s.yaml"], "error: suites/more.csv:2: duplicate case id 'a' (first at suites/s.yaml:4) (case ids must be unique; rename one)\n"),
    ("csv-field-count",
     {"suites/s.yaml": SUITE + "  - file: more.csv\n",
      "suites/more.csv": "id,ticket,expected\nb,hi,billing\nc,one, two,billing\n"},
     ["validate", "suites/s.yaml"], 'error: suites/more.csv:3: row has 4 fields but the header has 3 (quote fields that contain commas)\n'),
    ("csv-empty", {"suites/s.yaml": SUITE + "  - file: more.csv\n", "suites/more.csv": ""},
     ["validate", "suites/s.yaml"], 'error: suites/more.csv:1: CSV file is empty (add a header row of var names)\n'),
    ("csv-duplicate-header",
     {"suites/s.yaml": SUITE + "  - file: more.csv\n", "suites/more.csv": "id,ticket,ticket\n"},
     ["validate", "suites/s.yaml"], "error: suites/more.csv:1: CSV header has a repeated column 'ticket' (each column needs a distinct name)\n"),
    ("jsonl-bad-json",
     {"suites/s.yaml": SUITE + "  - file: more.jsonl\n",
      "suites/more.jsonl": '{"id": "b", "vars": {"ticket": "x"}}\n{"id": "c", vars}\n'},
     ["validate", "suites/s.yaml"], 'error: suites/more.jsonl:2: invalid JSON: Expecting property name enclosed in double quotes (column 13) (each line must be one JSON object)\n'),
    ("jsonl-missing-id",
     {"suites/s.yaml": SUITE + "  - file: more.jsonl\n",
      "suites/more.jsonl": '{"vars": {"ticket": "x"}}\n'},
     ["validate", "suites/s.yaml"], "error: suites/more.jsonl:1: id: required key is missing (add 'id')\n"),
    ("cases-file-missing", {"suites/s.yaml": SUITE + "  - file: nowhere.jsonl\n"},
     ["validate", "suites/s.yaml"], 'error: suites/s.yaml:7: cases file not found: suites/nowhere.jsonl (paths are relative to the suite file)\n'),
    ("missing-variable", {"suites/s.yaml": SUITE.replace("{ticket: hello}", "{tikcet: hello}")},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:4: case 'a' has no var 'ticket', which prompt echo@1 uses (add vars.ticket to the case)\n"),
    ("template-syntax",
     {"prompts/echo/v2.yaml": ECHO_V1.replace("{{ ticket }}", "{{ ticket }")},
     ["validate", "suites/s.yaml"], "error: prompts/echo/v2.yaml:4: template syntax error: unexpected '}' (fix the Jinja2 syntax, e.g. balance {{ }} and {% %})\n"),
    ("sandbox-class-mro",
     {"prompts/echo/v2.yaml": ECHO_V1.replace("{{ ticket }}", "{{ ''.__class__.__mro__ }}")},
     ["validate", "suites/s.yaml"], "error: prompts/echo/v2.yaml:4: unsafe template: access to attribute '__class__' of 'str' object is unsafe. (templates may only use variables, filters and tests; underscore attributes and methods that change data are blocked)\n"),
    ("sandbox-globals",
     {"prompts/echo/v2.yaml": ECHO_V1.replace(
         "{{ ticket }}", "{{ ticket }} {{ cycler.__init__.__globals__.os }}")},
     ["validate", "suites/s.yaml"], "error: prompts/echo/v2.yaml:4: unsafe template: access to attribute '__init__' of 'type' object is unsafe. (templates may only use variables, filters and tests; underscore attributes and methods that change data are blocked)\n"),
    ("sandbox-mutation",
     {"prompts/echo/v2.yaml": ECHO_V1.replace(
         "{{ ticket }}", "{{ ticket }}{% set l = [] %}{{ l.append(1) }}")},
     ["validate", "suites/s.yaml"], "error: prompts/echo/v2.yaml:4: unsafe template: access to attribute 'append' of 'list' object is unsafe. (templates may only use variables, filters and tests; underscore attributes and methods that change data are blocked)\n"),
    ("prompt-unknown-key", {"prompts/echo/v2.yaml": ECHO_V1 + "temperature: 0.2\n"},
     ["validate", "suites/s.yaml"], "error: prompts/echo/v2.yaml:8: unknown key 'temperature' (allowed keys: kind, description, model, params, messages, examples, steps, parse, origin)\n"),
    ("few-shot-without-examples",
     {"prompts/echo/v2.yaml": ECHO_V1.replace("zero-shot", "few-shot")},
     ["validate", "suites/s.yaml"], "error: prompts/echo/v2.yaml:1: a few-shot prompt needs 'examples' (input/output pairs)\n"),
    ("chain-with-messages", {"prompts/echo/v2.yaml": ECHO_V1.replace("zero-shot", "chain")},
     ["validate", "suites/s.yaml"], "error: prompts/echo/v2.yaml:1: a chain needs 'steps' (a list of steps, each with messages)\n"),
    ("label-without-choices",
     {"prompts/echo/v2.yaml": ECHO_V1.replace("  choices: [billing, shipping]\n", "")},
     ["validate", "suites/s.yaml"], "error: prompts/echo/v2.yaml:5: parse: type 'label' needs 'choices': the list of labels\n"),
    ("bad-parse-regex",
     {"prompts/echo/v2.yaml": ECHO_V1.replace(
         "  type: label\n  choices: [billing, shipping]\n", "  type: regex\n  pattern: '(a'\n")},
     ["validate", "suites/s.yaml"], "error: prompts/echo/v2.yaml:5: parse: 'pattern' is not a valid regex: missing ), unterminated subpattern at position 0\n"),
    ("yaml-boolean-label",
     {"prompts/echo/v2.yaml": ECHO_V1.replace("[billing, shipping]", "[yes, no]")},
     ["validate", "suites/s.yaml"], 'error: prompts/echo/v2.yaml:7: parse.choices[0]: input should be a valid string (got True) (YAML reads yes/no/on/off as true/false: put the value in quotes)\nerror: prompts/echo/v2.yaml:7: parse.choices[1]: input should be a valid string (got False) (YAML reads yes/no/on/off as true/false: put the value in quotes)\n'),
    ("label-to-missing-version", {"prompts/echo/labels.yaml": "production: 7\n",
                                  "suites/s.yaml": SUITE.replace("[echo]", "[echo@production]")},
     ["validate", "suites/s.yaml"], "error: prompts/echo/labels.yaml:1: label 'production' points to version 7, which does not exist (versions: 1)\n"),
    ("unknown-assertion-type",
     {"suites/s.yaml": SUITE + "    assert:\n      - type: contain\n        value: x\n"},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:8: cases[0].assert[0].type: unknown assertion type 'contain' (did you mean 'contains'? known types: equals, contains, icontains, regex, one-of, starts-with, contains-any, contains-all, is-json, json-schema, json-path, contains-json, length, similar, latency, cost, python, llm-rubric; prefix any with 'not-' to negate)\n"),
    ("api-key-literal",
     {"suites/s.yaml": SUITE + "models:\n  - name: openai/gpt-4o-mini\n"
      "    api_key_env: sk-abc123-def\n"},
     ["validate", "suites/s.yaml"], 'error: suites/s.yaml:9: models[0].api_key_env: api_key_env is the NAME of an environment variable (e.g. OPENAI_API_KEY), never the key itself\n'),
    ("api-key-in-params", {"suites/s.yaml": SUITE + "params: {temperature: 0, api_key: sk-abc123-def}\n"},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:7: params: api_key in params: keys never go in files, where runs would store them; put the key in an environment variable and name it with api_key_env\n"),
    ("api-key-in-prompt-params", {"prompts/echo/v2.yaml": ECHO_V1 + "params: {max_tokens: 5, api_key: sk-abc123-def}\n"},
     ["validate", "suites/s.yaml"], "error: prompts/echo/v2.yaml:8: params: api_key in params: keys never go in files, where runs would store them; put the key in an environment variable and name it with api_key_env\n"),
    ("unknown-local-model", {"suites/s.yaml": SUITE + "models: [local/llama]\n"},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:7: models[0]: unknown local model 'local/llama' (the embedded model is local/smollm2)\n"),
    ("save-identical", {"new.yaml": ECHO_V1}, ["prompts", "save", "echo", "new.yaml"], 'error: prompts/echo/v1.yaml: nothing to save: identical to version 1\n'),
    ("save-invalid", {"new.yaml": "kind: zero-shot\n"}, ["prompts", "save", "echo", "new.yaml"],
     "error: new.yaml:1: a zero-shot prompt needs 'messages'\n"),
    ("show-bad-vars", {}, ["prompts", "show", "echo", "--vars", "{ticket}"], 'error: --vars is not valid JSON: Expecting property name enclosed in double quotes (e.g. --vars \'{"x": 1}\')\n'),
    ("unknown-flag", {}, ["run", "suites/s.yaml", "--rerunz", "3"], "workbench: unrecognized arguments: --rerunz 3 (see 'workbench --help')\n"),
    ("escalation-target-range", {"suites/s.yaml": SUITE + "escalation:\n  target: 90\n"},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:8: escalation.target: input should be less than or equal to 1 (got 90)\n"),
    ("escalation-unknown-metric", {"suites/s.yaml": SUITE + "escalation: {metric: modal}\n"},
     ["validate", "suites/s.yaml"], "error: suites/s.yaml:7: escalation.metric: input should be 'modal_share' or 'tar_answer' (got 'modal')\n"),
    ("escalate-without-runs", {}, ["escalate", "suites/s.yaml"], "error: .workbench/workbench.db: no stored runs of suite 's' (run it first: workbench run suites/s.yaml)\n"),
    ("escalate-unknown-suite", {}, ["escalate", "nope"], "error: no suite file 'nope' and no stored runs of a suite named 'nope' (run the suite first: workbench run suites/<file>.yaml)\n"),
    ("export-without-expected", {"suites/s.yaml": SUITE.replace("    expected: billing\n", "")},
     ["export-finetune", "suites/s.yaml", "-o", "x.jsonl", "--prompt", "echo"], "error: suites/s.yaml: nothing to export: no case has an expected answer (add 'expected' to the cases: it is the fine-tuning target)\n"),
    ("export-empty-expected", {"suites/s.yaml": SUITE.replace("expected: billing", "expected: ''")},
     ["export-finetune", "suites/s.yaml", "-o", "x.jsonl", "--prompt", "echo"], "error: suites/s.yaml: case 'a' cannot be a training example: message 2 must have non-empty text content (fix its expected answer or what its prompt renders)\n"),
    ("export-bad-holdout", {}, ["export-finetune", "suites/s.yaml", "-o", "x.jsonl", "--holdout", "1"], "error: --holdout is the held-out fraction: at least 0 and below 1 (e.g. --holdout 0.2)\n"),
]
