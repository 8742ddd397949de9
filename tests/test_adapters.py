"""Fine-tuned adapters as models, without training anything: names, the registry, refusals,
the escalation report's "after fine-tuning" section, and the hosted fine-tuning path over
real HTTP against the fake server's files and fine-tuning endpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.histories import Case, Version, add_run, few_shot, pattern, zero_shot
from workbench.cli.main import main
from workbench.models.adapters import (
    AdapterComparison,
    AdapterInfo,
    MetricChange,
    adapter_name,
    is_valid_name,
    latest_for_suite,
    list_adapters,
    load_adapter,
    resolve_adapter,
    tuned_model_name,
    verdict_of,
    write_comparison,
    write_info,
)
from workbench.models.errors import ModelUnavailable
from workbench.store.database import Store
from workbench.testing.fakeserver import FakeServer

LABELS = ["billing", "shipping", "technical"]


def comparison(name: str, created: float, ci: tuple[float, float] | None = (0.1, 0.5)
               ) -> AdapterComparison:
    change = MetricChange("pass_rate", 0.2, 0.5, 0.3, ci)
    return AdapterComparison(
        adapter=name, suite="tickets", before_model="local/smollm2", before_prompt="p@2",
        before_run="r1", after_model=tuned_model_name(name), after_prompt="p-short@2",
        after_run="r2", cases=("c1", "c2"), reruns=5, k=5, pass_rate=change,
        consistency=MetricChange("consistency", 0.6, 0.9, 0.3, None),
        pass_hat_k=MetricChange("pass_hat_k", 0.0, 0.5, 0.5, (-0.1, 1.0)),
        tokens_per_call=(120.0, 40.0), seconds_per_call=(0.4, None),
        verdict=verdict_of(change), created=created)


def test_adapter_names() -> None:
    assert tuned_model_name("v1") == "local/smollm2+v1"
    assert adapter_name("local/smollm2+v1.b_c-d") == "v1.b_c-d"
    assert adapter_name("local/smollm2") is None and adapter_name("openai/x+y") is None
    assert is_valid_name("a") and is_valid_name("A9._-z")
    for bad in ("", "-x", ".x", "a/b", "a b", "../x", "x" * 65, "é"):
        assert not is_valid_name(bad), bad


def test_resolve_adapter(tmp_path: Path) -> None:
    assert resolve_adapter("local/smollm2", tmp_path) is None
    with pytest.raises(ModelUnavailable, match=r"workbench finetune SUITE --name nope"):
        resolve_adapter("local/smollm2+nope", tmp_path)
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "adapter.gguf").write_bytes(b"GGUF")  # no adapter.json: unfinished
    with pytest.raises(ModelUnavailable):
        resolve_adapter("local/smollm2+half", tmp_path)
    write_info(tmp_path / "half", AdapterInfo(name="half", suite="s", prompt="p@1"))
    assert resolve_adapter("local/smollm2+half", tmp_path) == tmp_path / "half" / "adapter.gguf"


def test_records_round_trip_and_the_newest_measured_adapter_wins(tmp_path: Path) -> None:
    for name, created in (("old", 1.0), ("new", 2.0), ("unmeasured", 3.0)):
        folder = tmp_path / name
        write_info(folder, AdapterInfo(name=name, suite="tickets", prompt="p@2",
                                       losses=(2.0, 1.0), created=created))
        if name != "unmeasured":
            write_comparison(folder, comparison(name, created))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "adapter.json").write_text("{not json")
    assert [a.info.name for a in list_adapters(tmp_path)] == ["old", "new", "unmeasured"]
    latest = latest_for_suite("tickets", tmp_path)
    assert latest is not None and latest.comparison == comparison("new", 2.0)
    assert latest_for_suite("other", tmp_path) is None
    loaded = load_adapter(tmp_path / "old")
    assert loaded is not None and loaded.info.losses == (2.0, 1.0)


def test_verdict_on_the_advice_follows_the_pass_rate_interval() -> None:
    assert verdict_of(MetricChange("pass_rate", 0, 0.5, 0.5, (0.1, 0.9))) == "helped"
    assert verdict_of(MetricChange("pass_rate", 0, 0.1, 0.1, (-0.1, 0.3))) == "no_gain"
    assert verdict_of(MetricChange("pass_rate", 0.5, 0, -0.5, (-0.9, -0.1))) == "worse"
    assert verdict_of(MetricChange("pass_rate", 0, 1, 1, None)) == "no_gain"


def _project(tmp_path: Path, n: int = 20, models: str = "") -> tuple[Path, list[Case]]:
    cases = [Case(f"c{i:02d}", LABELS[i % 3], f"Ticket number {i}") for i in range(n)]
    (tmp_path / "prompts" / "p").mkdir(parents=True)
    for v, text in enumerate([zero_shot(0.7), few_shot(0)], start=1):
        (tmp_path / "prompts" / "p" / f"v{v}.yaml").write_text(text)
    (tmp_path / "suites").mkdir()
    suite = tmp_path / "suites" / "tickets.yaml"
    lines = "".join(f"  - {{id: {c.id}, vars: {{ticket: {json.dumps(c.ticket)}}}, "
                    f"expected: {c.expected}}}\n" for c in cases)
    suite.write_text(f"name: tickets\nprompts: [p@1, p@2]\n{models}cases:\n{lines}")
    with Store(tmp_path / ".workbench" / "workbench.db") as store:
        add_run(store, "tickets", cases, [
            Version("p", 1, zero_shot(0.7), pattern(cases, 2)),
            Version("p", 2, few_shot(0), pattern(cases, 4)),
        ], base_dir=str(tmp_path / "suites"))
    return suite, cases


def test_a_run_on_a_missing_adapter_is_refused_before_any_cell(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    suite, _ = _project(tmp_path, 3, models="models: [local/smollm2+nope]\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORKBENCH_ADAPTERS", raising=False)
    assert main(["run", str(suite), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no fine-tuned adapter 'nope'" in err and "workbench finetune" in err
    assert "Traceback" not in err


def test_adapters_live_in_the_project_given_with_project(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Like its store, a project's adapters are in its own .workbench/, wherever the command
    runs from; outside a command the working folder's, as before."""
    from workbench.models.adapters import DEFAULT_DIR, adapters_dir

    project = tmp_path / "proj"
    project.mkdir()
    suite, _ = _project(project, 3, models="models: [local/smollm2+nope]\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("WORKBENCH_ADAPTERS", raising=False)
    assert main(["--project", str(project), "run", str(suite), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"no fine-tuned adapter 'nope' in {project / '.workbench' / 'adapters'}/" in err
    assert adapters_dir() == DEFAULT_DIR  # the command is over
    monkeypatch.setenv("WORKBENCH_ADAPTERS", str(tmp_path / "mine"))
    assert main(["--project", str(project), "run", str(suite), "--quiet"]) == 2
    assert f"in {tmp_path / 'mine'}/" in capsys.readouterr().err  # the variable still wins


def test_an_unknown_local_model_still_names_the_embedded_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    suite, _ = _project(tmp_path, 3, models="models: [local/other]\n")
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(suite)]) == 2
    assert "unknown local model 'local/other'" in capsys.readouterr().err


def test_finetune_without_the_extra_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import workbench.finetune.train as train

    suite, _ = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(train, "EXTRA_MODULES", ("torch", "no_such_module_for_the_test"))
    assert main(["finetune", str(suite)]) == 2
    err = capsys.readouterr().err
    assert "no_such_module_for_the_test" in err
    assert "pip install 'prompt-workbench[finetune]'" in err and "whl/cpu" in err
    assert not (tmp_path / ".workbench" / "adapters").exists()


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], "--epochs must be from 1 to 100"),
    (["--rank", "0"], "--rank must be from 1 to 256"),
    (["--lr", "nan"], "--lr must be above 0"),
    (["--holdout", "1"], "--holdout is the held-out fraction"),
    (["--name", "../x"], "is not an adapter name"),
])
def test_finetune_refuses_bad_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture, flags: list[str],
                                      message: str) -> None:
    import workbench.finetune.loop as loop
    import workbench.finetune.train as train

    suite, _ = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(train, "EXTRA_MODULES", ())
    monkeypatch.setattr(loop, "train_lora", _never)
    assert main(["finetune", str(suite), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / ".workbench" / "adapters").exists()


def _never(*args: object, **kwargs: object) -> None:
    raise AssertionError("training must not start")


def test_escalation_json_has_no_after_finetune_without_an_adapter(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.escalation.pipeline import assess_suite
    from workbench.reports.escalation import render_escalation_markdown
    from workbench.reports.escalation_json import build_escalation_json

    suite, _ = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    report = assess_suite(".workbench/workbench.db", str(suite))
    assert report.after_finetune is None
    assert "after_finetune" not in build_escalation_json(report)
    assert "After fine-tuning" not in render_escalation_markdown(report)
    write_comparison(tmp_path / ".workbench" / "adapters" / "t", comparison("t", 5.0))
    write_info(tmp_path / ".workbench" / "adapters" / "t",
               AdapterInfo(name="t", suite="tickets", prompt="p@2"))
    report = assess_suite(".workbench/workbench.db", str(suite))
    assert report.after_finetune == comparison("t", 5.0)
    data = build_escalation_json(report)["after_finetune"]
    assert data["verdict_text"] == "fine-tuning helped"
    assert data["pass_rate"]["ci"] == [0.1, 0.5]
    assert "| pass rate | 0.20 | 0.50 | +0.30 \\[+0.10, +0.50\\] |" in \
        render_escalation_markdown(report)


# -- hosted ---------------------------------------------------------------------------------


def test_hosted_finetune_uploads_starts_polls_and_registers_the_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    suite, _ = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FT_TEST_KEY", "sk-test-hosted-0123456789")
    with FakeServer() as srv:
        code = main(["finetune", str(suite), "--provider", "openai", "--base-model",
                     "gpt-4o-mini-2024-07-18", "--api-base", srv.base_url, "--api-key-env",
                     "FT_TEST_KEY", "--poll", "0.01", "--name", "hosted"])
    out = capsys.readouterr()
    assert code == 0, out.err
    adapter = load_adapter(tmp_path / ".workbench" / "adapters" / "hosted")
    assert adapter is not None
    info = adapter.info
    assert info.provider == "openai" and info.base_model == "gpt-4o-mini-2024-07-18"
    assert info.remote_model and info.remote_model.startswith("ft:gpt-4o-mini-2024-07-18:")
    assert info.model == info.remote_model and info.remote_job
    assert len(info.train_cases) == 15 and len(info.heldout_cases) == 5
    assert info.remote_model in out.out
    assert "sk-test-hosted" not in out.out + out.err
    assert "queued" in out.err and "succeeded" in out.err


def test_hosted_finetune_failure_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    suite, _ = _project(tmp_path, n=8)  # 6 training examples: the API wants 10
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FT_TEST_KEY", "sk-test-hosted-0123456789")
    with FakeServer() as srv:
        code = main(["finetune", str(suite), "--provider", "openai", "--base-model", "m",
                     "--api-base", srv.base_url, "--api-key-env", "FT_TEST_KEY", "--poll",
                     "0.01", "--name", "bad"])
    err = capsys.readouterr().err
    assert code == 1
    assert "fine-tuning failed" in err and "at least 10 are required" in err
    assert list((tmp_path / ".workbench" / "adapters").iterdir()) == []


def test_hosted_finetune_needs_its_key_and_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    suite, _ = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FT_TEST_KEY", raising=False)
    assert main(["finetune", str(suite), "--provider", "openai", "--base-model", "m",
                 "--api-key-env", "FT_TEST_KEY"]) == 2
    assert "FT_TEST_KEY is not set" in capsys.readouterr().err
    assert main(["finetune", str(suite), "--provider", "openai"]) == 2
    assert "needs --base-model" in capsys.readouterr().err
