"""report.html: self-contained, escaped, the same figures as report.md; re-rendering gives the same bytes."""

import json
import re

from advisor.measure.feedback import Rating, summarize
from advisor.measure.cost import BreakEven, Costs
from advisor.verdict.html import render_html
from advisor.verdict.render import render_markdown, write_report
from advisor.verdict.wording import format_number, quality_cell
from advisor.verdict.report import Report

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def hostile_report(ferry_report) -> Report:
    report = Report.load(ferry_report)
    report.arms["rag"].details["samples"][0]["answer"] = HOSTILE
    report.arms["rag"].details["samples"][0]["retrieved"] = [HOSTILE]
    report.corpus.skipped = [{"path": HOSTILE, "reason": HOSTILE}]
    report.warnings.append(HOSTILE)
    report.config["corpus"] = HOSTILE
    return report


def test_corpus_and_model_text_is_shown_as_text_never_run(ferry_report):
    html = render_html(hostile_report(ferry_report))
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert html.count("&lt;script&gt;alert(") >= 5


def test_the_page_is_self_contained_and_carries_the_reports_figures(ferry_report):
    report = Report.load(ferry_report)
    html = render_html(report)
    # Nothing fetched: no external source, style sheet or import (links to cited papers are only links).
    assert not re.search(r"""src=["']?(https?:)?//|<link\b|@import|url\(""", html)
    assert "<style>" in html and html.count("<svg") == 4  # quality, latency, cost against volume, training loss
    assert "Recommendation: rag (confidence medium)" in html
    metric = report.evaluation.primary_metric
    for arm in report.arms.values():
        assert quality_cell(arm.quality[metric]) in html
        assert format_number(arm.latency_ms["p95"], 1) in html
        assert format_number(arm.cost_usd["per_1k_queries"], 5) in html
    for reason in report.recommendation.reason_texts:
        assert reason.replace("'", "&#39;") in html


def test_notebook_summary_is_the_headline_and_table(ferry_report):
    summary = Report.load(ferry_report)._repr_html_()
    assert "Recommendation: rag" in summary and "<table>" in summary and "<svg" not in summary


def test_rerendering_from_report_json_gives_the_same_bytes(tmp_path, run_cli, ferry_report):
    report = Report.load(ferry_report)
    paths = write_report(report, tmp_path)
    written = {kind: path.read_bytes() for kind, path in paths.items()}
    assert Report.from_dict(json.loads(written["json"])).to_dict() == report.to_dict()
    assert render_markdown(Report.load(paths["json"])).encode() == written["markdown"]
    for fmt, kind in (("html", "html"), ("md", "markdown"), ("json", "json")):
        out = run_cli("report", tmp_path, "--format", fmt, "--out", "-", text=False, check=True)
        assert out.stdout == written[kind], fmt


def test_each_reason_links_to_its_figure_and_its_sources_and_costs_show_the_break_even(ferry_report):
    from advisor.verdict.literature import SOURCES
    from advisor.verdict.report import FIGURES, Reason, Recommendation

    report = Report.load(ferry_report)
    report.config["constraints"] = {"queries_per_month": 20_000, "must_cite_sources": True}
    report.costs = Costs(break_even=BreakEven("finetune", "rag", 250_000.0))
    report.corpus.personal_data = {"counts": {"emails": 1}, "findings": [
        {"kind": "emails", "path": "crew.md", "line": 4, "value": "j***@***.com"}]}
    report.corpus.near_duplicates = {"documents": 1, "share_of_characters": 0.05, "threshold": 0.8,
                                        "method": "MinHash", "pairs": [{"first": "a.md", "second": "b.md",
                                                                        "similarity": 0.93}]}
    report.feedback = summarize([Rating("Which buoy?", "rag", "up")], list(report.arms))  # its section shows
    report.recommendation = Recommendation(
        "rag", "high", [Reason(f"rests on {title}", figure) for figure, title in FIGURES.items()]
        + [Reason("cites every source", sources=list(SOURCES))], rule="a rule")
    html = render_html(report)
    assert "rated good 1 of 1 (1.00, 95% CI 0.21 to 1.00)" in html
    for figure in FIGURES:
        assert f'href="#{figure}"' in html and f'id="{figure}"' in html, figure
    for key, source in SOURCES.items():
        assert f'href="#ref-{key}"' in html and f'id="ref-{key}"' in html and source.url in html
    assert "break-even 250,000" in html and "a year at your volume (240,000)" in html  # marks on the cost chart
    assert "Rule: a rule" in html and "j***@***.com" in html
    markdown = render_markdown(report)
    assert "→ *Cost against query volume*" in markdown and "## Cost against query volume" in markdown
    volumes = next(line for line in markdown.splitlines() if line.startswith("| | 1,000 |"))
    assert volumes == "| | 1,000 | 10,000 | 100,000 | 240,000 | 1,000,000 |"  # a year at the user's volume
    assert "## References" in markdown and "https://arxiv.org/abs/2312.05934" in markdown
    assert "`crew.md` line 4: emails j***@***.com" in markdown
    assert "`a.md` ~ `b.md` (0.93)" in markdown and "<code>a.md</code> ~ <code>b.md</code> (0.93)" in html
