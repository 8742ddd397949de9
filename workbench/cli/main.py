"""The ``workbench`` command: a thin shell over the library (no command opens the TUI).

Exit codes: 0 all good, 1 a threshold or assertion failed, 2 bad input or configuration
(one clear message, never a traceback). Heavy imports (litellm, Textual) happen inside
the commands that need them so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from workbench import __version__
from workbench.errors import InputError, display_path

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2
EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: a bug in the workbench, not in the input


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on usage errors already; keep the message to one line + hint."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_INPUT, f"workbench: {message} (see '{self.prog} --help')\n")


def _project(args: argparse.Namespace) -> Path:
    return Path(args.project).resolve()


def _library(args: argparse.Namespace):
    from workbench.prompts.library import PromptLibrary

    return PromptLibrary(_project(args) / "prompts")


# -- prompts -------------------------------------------------------------------------


def cmd_prompts_list(args: argparse.Namespace) -> int:
    library = _library(args)
    names = library.names()
    if not names:
        print(f"no prompts in {library.root}")
        return EXIT_OK
    width = max(len(n) for n in names)
    for name in names:
        versions = library.versions(name)
        labels = library.labels(name)
        latest = library.load(name, versions[-1])
        label_text = ", ".join(f"{k}→v{v}" for k, v in sorted(labels.items()))
        print(
            f"{name:<{width}}  {latest.spec.kind:<9}  v{versions[-1]:<3} "
            f"({len(versions)} version{'s' if len(versions) != 1 else ''})"
            + (f"  [{label_text}]" if label_text else "")
        )
    return EXIT_OK


def cmd_prompts_show(args: argparse.Namespace) -> int:
    import json

    library = _library(args)
    if args.stored:
        return _show_stored(args)
    prompt = library.resolve(args.ref)
    if args.vars is None:
        print(f"# {prompt.ref}  ({prompt.path})  sha256:{prompt.hash[:12]}")
        print(prompt.text, end="" if prompt.text.endswith("\n") else "\n")
        return EXIT_OK
    try:
        variables = json.loads(args.vars)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"--vars is not valid JSON: {exc.msg} (e.g. --vars '{{\"x\": 1}}')"
        ) from None
    except RecursionError:
        raise InputError("--vars is nested too deeply") from None
    if not isinstance(variables, dict):
        raise InputError("--vars must be a JSON object, e.g. --vars '{\"ticket\": \"...\"}'")
    outputs: dict[str, str] = {}
    for index in range(prompt.step_count()):
        step = prompt.render_step(index, variables, outputs)
        if prompt.step_count() > 1:
            print(f"## step {index + 1}: {step.output}")
        for message in step.messages:
            print(f"[{message['role']}]\n{message['content']}\n")
        outputs[step.output] = f"<output of step '{step.output}'>"
    return EXIT_OK


def _show_stored(args: argparse.Namespace) -> int:
    """The text a stored run used, even if the file was edited by hand since."""
    from workbench.prompts.library import Ref
    from workbench.store.database import default_db_path, existing_store

    try:
        ref = Ref.parse(args.ref)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if ref.selector is None or not ref.selector.isdigit():
        raise InputError("--stored needs a version number, e.g. ticket-classifier@2")
    with existing_store(default_db_path(_project(args))) as store:
        text = store.stored_prompt_text(ref.name, int(ref.selector)) if store else None
    if text is None:
        raise InputError(f"no stored run used {ref.name}@{ref.selector}")
    print(text, end="" if text.endswith("\n") else "\n")
    return EXIT_OK


def cmd_prompts_diff(args: argparse.Namespace) -> int:
    library = _library(args)
    left = library.resolve(args.a)
    right = library.resolve(args.b) if "@" in args.b or not args.b.isdigit() else None
    if right is None:
        right = library.resolve(f"{left.name}@{args.b}")
    text = library.diff(left.name, left.version, right.version, other=right.name)
    print(text or f"{left.ref} and {right.ref} are identical", end="" if text else "\n")
    return EXIT_OK


def cmd_prompts_save(args: argparse.Namespace) -> int:
    from workbench.config.files import MAX_YAML_BYTES, FileRefused, decode_text, read_text
    from workbench.prompts.library import label_problem

    library = _library(args)
    if args.label and label_problem(args.label):  # before the version is written
        raise InputError(f"--label: {label_problem(args.label)}")
    try:
        if args.file == "-":
            data = sys.stdin.buffer.read(MAX_YAML_BYTES + 1)
            if len(data) > MAX_YAML_BYTES:
                raise FileRefused(f"is larger than the limit of {MAX_YAML_BYTES >> 20} MB")
            text = decode_text(data, "<stdin>")
        else:
            text = read_text(Path(args.file), MAX_YAML_BYTES)
    except FileNotFoundError:
        raise InputError(f"{args.file}: file not found") from None
    except FileRefused as exc:
        raise InputError(exc.problem("<stdin>" if args.file == "-" else args.file)) from None
    prompt = library.save(args.name, text, None if args.file == "-" else Path(args.file))
    print(f"saved {prompt.ref} → {prompt.path}")
    if args.label:
        library.set_label(args.name, args.label, prompt.version)
        print(f"labelled {args.label} → v{prompt.version}")
    return EXIT_OK


def cmd_prompts_label(args: argparse.Namespace) -> int:
    library = _library(args)
    prompt = library.resolve(f"{args.name}@{args.version}")
    library.set_label(args.name, args.label, prompt.version)
    print(f"{args.name}@{args.label} → v{prompt.version}")
    return EXIT_OK


# -- suites --------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from workbench.suites.loader import load_suite, summary_line

    suite = load_suite(Path(args.suite))
    print(summary_line(suite))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from workbench.cli.run import run_command

    return run_command(args)


def cmd_report(args: argparse.Namespace) -> int:
    from workbench.analysis.results import load_results
    from workbench.cli.run import read_store, write_reports
    from workbench.reports import render_summary

    with read_store(args) as store:
        results = load_results(store, args.run)
    write_reports(results, json_path=args.json, junit_path=args.junit, md_path=args.md,
                  html_path=args.html)
    print(render_summary(results, color=sys.stdout.isatty()), end="")
    return EXIT_OK if results.ok else EXIT_FAILED


def cmd_compare(args: argparse.Namespace) -> int:
    from workbench.analysis.results import compare_runs, load_results
    from workbench.cli.run import read_store
    from workbench.reports import render_comparisons

    with read_store(args) as store:
        a = load_results(store, args.run_a)
        b = load_results(store, args.run_b)
    print(render_comparisons(compare_runs(a, b), color=sys.stdout.isatty()), end="")
    return EXIT_OK


def cmd_tui(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InputError("the TUI needs a terminal (stdin and stdout); "
                         "for scripts and CI use 'workbench run SUITE'")
    project = _project(args)
    if not project.is_dir():
        raise InputError(f"--project {args.project}: not a folder")
    from workbench.tui import run_tui

    return run_tui(project, db=Path(args.db) if getattr(args, "db", None) else None)


def cmd_escalate(args: argparse.Namespace) -> int:
    from workbench.cli.escalate import escalate_from_cli

    return escalate_from_cli(args)


def cmd_export_finetune(args: argparse.Namespace) -> int:
    from workbench.cli.escalate import export_from_cli

    return export_from_cli(args)


def cmd_optimize(args: argparse.Namespace) -> int:
    from workbench.cli.optimize import optimize_from_cli

    return optimize_from_cli(args)


def cmd_import_promptfoo(args: argparse.Namespace) -> int:
    from workbench.cli.importing import import_promptfoo

    return import_promptfoo(args)


# -- parser --------------------------------------------------------------------------


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="F", help="store (default: .workbench/workbench.db)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="workbench",
        description="Version prompts, run suites through litellm, measure how much output varies.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument(
        "--project", default=".", help="project folder holding prompts/ and suites/ (default: .)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    tui = sub.add_parser("tui", help="open the terminal UI (the default with no command)")
    _db_option(tui)
    tui.set_defaults(func=cmd_tui)

    run = sub.add_parser("run", help="run a suite headless and write reports")
    run.add_argument("suite", help="path to a suite YAML file")
    run.add_argument("--prompt", action="append", metavar="REF",
                     help="variant(s) to run instead of the suite's (repeatable)")
    run.add_argument("--model", action="append", metavar="M",
                     help="model(s) to run instead of the suite's (repeatable)")
    run.add_argument("--reruns", type=int, metavar="N", help="reruns per case")
    run.add_argument("--concurrency", type=int, metavar="C", help="requests in flight at once")
    run.add_argument("--resume", metavar="RUN", help="finish the missing cells of a stored run")
    run.add_argument("--json", metavar="F", help="write the JSON report here")
    run.add_argument("--junit", metavar="F", help="write JUnit XML here")
    run.add_argument("--md", metavar="F", help="write a Markdown summary here")
    run.add_argument("--html", metavar="F", help="write the HTML variance report here")
    _db_option(run)
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.set_defaults(func=cmd_run)

    report = sub.add_parser("report", help="summarise a stored run and (re)write its reports")
    report.add_argument("run", help="run id (or a unique part of it)")
    report.add_argument("--json", metavar="F")
    report.add_argument("--junit", metavar="F")
    report.add_argument("--md", metavar="F")
    report.add_argument("--html", metavar="F", help="the self-contained HTML variance report")
    _db_option(report)
    report.set_defaults(func=cmd_report)

    compare = sub.add_parser("compare", help="paired comparison of two stored runs")
    compare.add_argument("run_a", metavar="RUN_A")
    compare.add_argument("run_b", metavar="RUN_B")
    _db_option(compare)
    compare.set_defaults(func=cmd_compare)

    esc = sub.add_parser("escalate", help="fine-tune or not? the suite's history across "
                                          "prompt versions, judged")
    esc.add_argument("suite", metavar="SUITE", help="suite file, or the name of a suite with runs")
    esc.add_argument("--md", metavar="F", help="write the report as Markdown here")
    esc.add_argument("--html", metavar="F", help="write the report as HTML here")
    esc.add_argument("--json", metavar="F", help="write the report as JSON here")
    _db_option(esc)
    esc.set_defaults(func=cmd_escalate)

    from workbench.cli.optimize import add_parser as add_optimize

    add_optimize(sub).set_defaults(func=cmd_optimize)

    ft = sub.add_parser("export-finetune", help="chat-format JSONL for fine-tuning, from the "
                                                "cases with expected answers")
    ft.add_argument("suite", metavar="SUITE", help="suite file, or the name of a suite with runs")
    ft.add_argument("-o", "--output", required=True, metavar="F", help="the JSONL file to write")
    ft.add_argument("--holdout", type=float, metavar="FRACTION",
                    help="hold this share of examples out (e.g. 0.2) in a second file")
    ft.add_argument("--holdout-out", metavar="F",
                    help="the held-out file (default: F with .holdout before .jsonl)")
    ft.add_argument("--seed", type=int, default=0, help="seed of the held-out split (default 0)")
    ft.add_argument("--prompt", metavar="REF",
                    help="render through this version instead of the best one measured")
    ft.add_argument("--model", metavar="M", help="the best version on this model")
    _db_option(ft)
    ft.set_defaults(func=cmd_export_finetune)

    from workbench.cli.finetune import add_parser as add_finetune

    add_finetune(sub)

    imp = sub.add_parser("import", help="bring tests from another tool: prompts and a suite")
    isub = imp.add_subparsers(dest="import_command", metavar="TOOL", parser_class=_Parser,
                              required=True)
    p = isub.add_parser("promptfoo", help="a promptfooconfig.yaml (or .json) becomes "
                                          "prompts/<name>/vN.yaml and suites/<name>.yaml")
    p.add_argument("config", metavar="CONFIG", help="the promptfoo config file")
    p.add_argument("--name", metavar="N", help="suite and prompt name (default: the config's "
                                               "folder name)")
    p.add_argument("--dry-run", action="store_true",
                   help="write nothing; print the table and the files it would write")
    p.add_argument("--strict", action="store_true",
                   help="exit 2 and write nothing if anything cannot be imported")
    p.set_defaults(func=cmd_import_promptfoo)

    validate = sub.add_parser("validate", help="check a suite and everything it refers to")
    validate.add_argument("suite")
    validate.set_defaults(func=cmd_validate)

    prompts = sub.add_parser("prompts", help="the prompt library: list, show, diff, save, label")
    psub = prompts.add_subparsers(dest="prompts_command", metavar="ACTION", parser_class=_Parser,
                                  required=True)
    p = psub.add_parser("list", help="prompts with their versions and labels")
    p.set_defaults(func=cmd_prompts_list)
    p = psub.add_parser("show", help="a version's file, or its rendered messages with --vars")
    p.add_argument("ref", help="name, name@3 or name@label")
    p.add_argument("--vars", metavar="JSON", help="render with these variables")
    p.add_argument("--stored", action="store_true",
                   help="print the text stored with the runs that used this version")
    p.set_defaults(func=cmd_prompts_show)
    p = psub.add_parser("diff", help="unified diff of two versions")
    p.add_argument("a", help="name@N (or name@label)")
    p.add_argument("b", help="N, label, or another name@N")
    p.set_defaults(func=cmd_prompts_diff)
    p = psub.add_parser("save", help="save a file as the prompt's next version")
    p.add_argument("name")
    p.add_argument("file", help="YAML file with the new version ('-' for stdin)")
    p.add_argument("--label", help="also point this label at the new version")
    p.set_defaults(func=cmd_prompts_save)
    p = psub.add_parser("label", help="point a label at a version")
    p.add_argument("name")
    p.add_argument("label")
    p.add_argument("version", help="version number")
    p.set_defaults(func=cmd_prompts_label)
    return parser


def _check_common(args: argparse.Namespace) -> None:
    """What every command needs before it starts: an existing project folder (a typo must
    not create a store somewhere), and output files that can be written."""
    from workbench.cli.outputs import check_outputs

    if not Path(args.project).is_dir():
        raise InputError(f"--project {args.project}: no such folder")
    check_outputs(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            parser.print_help()  # no terminal for the TUI: say what the commands are
            return EXIT_OK
        func = cmd_tui
    try:
        _check_common(args)
        from workbench.models.adapters import in_project

        with in_project(_project(args)):
            return func(args)
    except InputError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # the system refused a file: say which, as for any input
        where = f"{display_path(exc.filename)}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_INPUT
    except Exception as exc:  # noqa: BLE001 - the last resort: a bug, one line, no traceback
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (a bug in the workbench; "
              "WORKBENCH_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
