"""report.html: self-contained, escaped, the same figures as report.md; re-rendering gives the same bytes."""

import json
import re
import subprocess
import sys
from pathlib import Path

from advisor.verdict.html import render_html
from advisor.verdict.render import format_number, quality_cell, render_markdown, write_report
from advisor.verdict.report import Report

FERRY = Path(__file__).parents[1] / "tui" / "fixtures" / "ferry-report.json"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def hostile_report() -> Report:
    report = Report.load(FERRY)
    report.arms["rag"].details["samples"][0]["answer"] = HOSTILE
    report.arms["rag"].details["samples"][0]["retrieved"] = [HOSTILE]
    report.corpus["skipped"] = [{"path": HOSTILE, "reason": HOSTILE}]
    report.warnings.append(HOSTILE)
    report.config["corpus"] = HOSTILE
    return report


def test_corpus_and_model_text_is_shown_as_text_never_run():
    html = render_html(hostile_report())
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert html.count("&lt;script&gt;alert(") >= 5


def test_the_page_is_self_contained_and_carries_the_reports_figures():
    report = Report.load(FERRY)
    html = render_html(report)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched
    assert "<style>" in html and html.count("<svg") == 3  # quality, latency, training loss
    assert "Recommendation: rag (confidence medium)" in html
    metric = report.evaluation["primary_metric"]
    for arm in report.arms.values():
        assert quality_cell(arm.quality[metric]) in html
        assert format_number(arm.latency_ms["p95"], 1) in html
        assert format_number(arm.cost_usd["per_1k_queries"], 5) in html
    for reason in report.recommendation.reasons:
        assert reason.replace("'", "&#39;") in html


def test_notebook_summary_is_the_headline_and_table():
    summary = Report.load(FERRY)._repr_html_()
    assert "Recommendation: rag" in summary and "<table>" in summary and "<svg" not in summary


def test_rerendering_from_report_json_gives_the_same_bytes(tmp_path):
    report = Report.load(FERRY)
    paths = write_report(report, tmp_path)
    written = {kind: path.read_bytes() for kind, path in paths.items()}
    assert Report.from_dict(json.loads(written["json"])).to_dict() == report.to_dict()
    assert render_markdown(Report.load(paths["json"])).encode() == written["markdown"]
    for fmt, kind in (("html", "html"), ("md", "markdown"), ("json", "json")):
        out = subprocess.run([sys.executable, "-m", "advisor", "report", str(tmp_path), "--format", fmt, "--out", "-"],
                             capture_output=True, check=True)
        assert out.stdout == written[kind], fmt
