"""What the benchmarks share: the workload's project files, memory readings, conditions.

Every run-engine benchmark uses the same workload — one zero-shot prompt asking a short
question, one case per call, against :mod:`workbench.testing.fakeserver` — so their figures
compare. The scripts import ``workbench`` as installed (``make install``: editable).
"""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the cost map

KEY_ENV = "WORKBENCH_BENCH_KEY"
SYSTEM = "You answer in one word."
PROMPT = f"""kind: zero-shot
params:
  temperature: 0.7
  max_tokens: 16
messages:
  - role: system
    content: {SYSTEM}
  - role: user
    content: "Question {{{{ n }}}}: what colour is the sky?"
"""


def question(n: int) -> str:
    """The user message the prompt renders for case ``n`` (the floor sends the same)."""
    return f"Question {n}: what colour is the sky?"


def make_project(root: Path, base_url: str, *, cases: int, reruns: int = 1,
                 concurrency: int = 32, name: str = "bench", transport: str = "litellm") -> Path:
    """A prompt and a suite of ``cases`` cases × ``reruns``; returns the suite path.
    ``transport`` is the model's: litellm, or direct to the OpenAI-compatible fake server."""
    os.environ.setdefault(KEY_ENV, "bench")
    (root / "prompts" / "bench").mkdir(parents=True, exist_ok=True)
    (root / "prompts" / "bench" / "v1.yaml").write_text(PROMPT, encoding="utf-8")
    (root / "suites").mkdir(exist_ok=True)
    (root / "suites" / f"{name}.jsonl").write_text(
        "".join(f'{{"id": "c{i}", "vars": {{"n": {i}}}}}\n' for i in range(cases)),
        encoding="utf-8",
    )
    suite = root / "suites" / f"{name}.yaml"
    suite.write_text(
        f"""name: {name}
prompts: [bench]
models:
  - name: openai/fake
    api_base: {base_url}
    api_key_env: {KEY_ENV}
    transport: {transport}
reruns: {reruns}
concurrency: {concurrency}
timeout: 30
cases:
  - file: {name}.jsonl
""",
        encoding="utf-8",
    )
    return suite


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mib() -> float:
    """Resident set size now, MiB."""
    return (_status_kib("VmRSS") or 0) / 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ≥ 4.0), so the next peak is one phase's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    """Peak RSS since the last :func:`reset_peak_rss` (or since start), MiB."""
    hwm = _status_kib("VmHWM")
    if hwm is None:  # not Linux: the process-wide peak
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return hwm / 1024


def conditions() -> str:
    """One line on the machine, for the record next to the figures."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
            f"load average {load}")
