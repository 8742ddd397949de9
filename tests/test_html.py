"""The HTML variance report: structure and escaping, and a real browser rendering it.

The browser test opens the report in headless Chromium (Debian's ``chromium``), takes a
screenshot and checks that the charts were painted (their exact colours in the chart area),
and reads the DOM back to prove that model output carrying ``<script>`` and
``<img onerror>`` payloads stayed text: no element was created, nothing ran, and the payload
is there to read. It skips when Chromium is missing, unless ``WORKBENCH_REQUIRE_CHROMIUM=1``
(set by ``.ci/run``), where a missing browser fails the test.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_reports import MODEL, A, _cell, _cells, _store_run
from workbench.analysis.reference import reference_text
from workbench.analysis.results import RunResults
from workbench.cli.main import main
from workbench.reports import render_html, write_html
from workbench.reports._html import CSS, el, esc
from workbench.reports.html import diff_markup
from workbench.reports.svg import PALETTE, heat_color

PAYLOAD = ("<script>document.title='pwned'</script>"
           "<img src=x onerror=\"document.title='pwned-img'\"><pwned-marker>hi</pwned-marker>")


def _results_with_payload(tmp_path: Path) -> RunResults:
    cells = _cells()
    cells[1] = _cell(A, "c1", 1, "billing", output=PAYLOAD, answer="shipping")
    return _store_run(tmp_path / "payload.db", cells)


@pytest.fixture
def results(tmp_path: Path) -> RunResults:
    return _store_run(tmp_path / "wb.db", _cells())


# ------------------------------------------------------------------------------------------
# Without a browser
# ------------------------------------------------------------------------------------------


def test_escaping_helper_and_builder() -> None:
    assert esc("<a href='x'>&\x07</a>") == "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
    assert el("td", "<b>", class_="num", title='"q"') == \
        '<td class="num" title="&#34;q&#34;">&lt;b&gt;</td>'
    assert el("p", el("b", "x"), "<i>") == "<p><b>x</b>&lt;i&gt;</p>"  # Markup passes through
    assert el("details", "x", open=True) == "<details open>x</details>"
    assert el("meta", name="a") == '<meta name="a">'


def test_word_diff_marks_what_differs_from_the_modal_output() -> None:
    assert diff_markup("the cat sat", "the dog sat") == \
        'the <del title="in the reference output">cat</del><ins>dog</ins> sat'
    assert diff_markup("billing", "billing") == "billing"
    assert diff_markup("a b", "a b <script>") == "a b<ins> &lt;script&gt;</ins>"
    assert reference_text(["x", "y", "y", None]) == "y"
    assert reference_text(["x", "y", "x", "y"]) == "x"  # first seen wins a tie
    assert reference_text([None]) is None
    # Every output differs: the first that gave the most common answer.
    assert reference_text(["It is a bill", "shipping!", "billing.", "Billing"],
                          ["billing", "shipping", "billing", "billing"]) == "It is a bill"
    assert reference_text(["a", "b", "c"], ["x", "y", "y"]) == "b"


def test_report_is_self_contained_and_scriptless(results: RunResults) -> None:
    html = render_html(results)
    assert html.startswith("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert csp == (f"default-src &#39;none&#39;; style-src &#39;sha256-{digest}&#39;; "
                   "img-src data:; base-uri &#39;none&#39;; form-action &#39;none&#39;")
    assert "<script" not in html and "<link" not in html and " style=" not in html
    urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # A/c3's output
    assert "shipping | maybe ]]&gt; &lt;b&gt; Größe 🚚" in html  # NASTY, BEL dropped
    assert "\x07" not in html


def test_report_sections_and_charts(results: RunResults) -> None:
    html = render_html(results)
    assert html.count("<svg ") == 3 + 2  # bars, pass@k, heat map; a histogram per group
    for title in ("Pass rate and consistency per variant (95% intervals)",
                  "pass@k and pass^k", "Pass rate: variant × case",
                  f"Modal share over cases: {A} · {MODEL}"):
        assert f"<title>{title}</title>" in html
    # Summary row of A: 67% (0%–100%: three cases, t with 2 df), TARa 33%.
    assert re.search(rf">{A}</a></td><td>{MODEL}</td><td class=\"num\">67% \(0%–100%\)"
                     r"</td><td class=\"num\">33%</td>", html)
    # Unstable cases first, flakiest expanded; c2 (stable) after them, collapsed.
    section = html.split(f'id="g-{A.replace("@", "-")}-{MODEL}"')[1].split("<h2")[0]
    ids = re.findall(r"<summary><code>(c\d)</code>", section)
    assert ids == ["c1", "c3", "c2"]
    assert section.count("<details open>") == 2
    # c1's failing rerun is diffed against the modal output ("billing").
    assert "<del title=\"in the reference output\">billing</del><ins>shipping | maybe" in \
        section
    assert "error: timeout after 30s" in section and "no answer parsed" in section
    assert "Per step (chain)" in html and "Variance first appears at step &#39;summary&#39;" in html
    # The parse rate beside modal share: in the summary and per-step tables, per case.
    assert html.count(">Modal share</th><th class=\"num\">Parse rate</th>") == 2
    assert "modal share 0.33 · parse rate 33% · answers: refund×1" in html
    assert ">Comparisons</h2>" in html and "no detectable difference" in html
    # Heat map cells carry their numbers as hover titles.
    assert f"<title>c1 · {A} · {MODEL}: 2/3 passed, modal share 0.67</title>" in html
    assert f'fill="{heat_color(2 / 3)}"' in html


def test_cli_report_and_run_write_html(tmp_path: Path, results: RunResults) -> None:
    db = tmp_path / "wb.db"
    out = tmp_path / "r" / "report.html"
    assert main(["report", results.run.id, "--db", str(db), "--html", str(out)]) == 1
    assert out.read_text(encoding="utf-8") == render_html(results)


# ------------------------------------------------------------------------------------------
# In a real browser
# ------------------------------------------------------------------------------------------


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("WORKBENCH_REQUIRE_CHROMIUM") == "1":
            pytest.fail("chromium is required (WORKBENCH_REQUIRE_CHROMIUM=1) but not installed: "
                        "apt-get install -y chromium")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return path


def _browse(tmp_path: Path, html_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars",
        "--force-color-profile=srgb", *args, html_file.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def _pixels(png: Path, box: tuple[int, int, int, int]) -> dict[tuple[int, int, int], int]:
    from PIL import Image

    with Image.open(png) as image:
        counts = image.convert("RGB").crop(box).getcolors(maxcolors=1 << 20)
    return {rgb: n for n, rgb in counts}


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def test_browser_renders_charts_and_never_runs_the_payload(tmp_path: Path) -> None:
    report = write_html(_results_with_payload(tmp_path), tmp_path / "report.html")
    dom = _browse(tmp_path, report, "--dump-dom", "--virtual-time-budget=2000").stdout
    # Nothing ran: the title is the report's, no element came out of the payload.
    title = re.search(r"<title>(.*?)</title>", dom).group(1)
    assert title == "ticket-triage · 20240501-120000-abcd"
    assert "pwned" not in title
    assert "<script" not in dom and "<img" not in dom and "<pwned-marker" not in dom
    # ...and the payload is there as text, in the expanded flaky case.
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;img src=x onerror=" in dom
    assert dom.count("<svg ") == 5

    shot = tmp_path / "light.png"
    _browse(tmp_path, report, f"--screenshot={shot}", "--window-size=1280,2600")
    chart_area = (0, 0, 1280, 2600)
    light = _pixels(shot, chart_area)
    bar_blue, bar_orange = _rgb(PALETTE[0]), _rgb(PALETTE[1])
    assert light.get(bar_blue, 0) > 300  # pass-rate bars, histogram and pass@k lines
    assert light.get(bar_orange, 0) > 300  # modal-share bars and the second group
    assert light.get(_rgb(heat_color(1.0)), 0) > 100  # heat map: cases passed every time
    assert light.get(_rgb(heat_color(2 / 3)), 0) > 100
    assert light.get((255, 255, 255), 0) > light.get((13, 17, 23), 0)  # light background

    dark_shot = tmp_path / "dark.png"
    _browse(tmp_path, report, f"--screenshot={dark_shot}", "--window-size=1280,2600",
            "--force-dark-mode")
    dark = _pixels(dark_shot, chart_area)
    assert dark.get((13, 17, 23), 0) > dark.get((255, 255, 255), 0)  # dark background
    assert dark.get(bar_blue, 0) > 300 and dark.get(bar_orange, 0) > 300
