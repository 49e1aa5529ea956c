"""advisor explain and advisor compare: read from report.json alone, every reason and figure carried over."""

import copy
import json
import os

from advisor.verdict.explain import compare, explain
from advisor.verdict.wording import evaluation_text, quality_cell
from advisor.verdict.report import Report



def test_explain_walks_from_the_measurements_to_every_reason(ferry_report):
    report = Report.load(ferry_report)
    steps = dict(explain(report))
    assert list(steps)[0] == "What was measured" and "The decision" in steps
    assert "rag: " + quality_cell(report.arms["rag"].quality["answer_containment"]) in steps["What was measured"]
    assert "rag against base: +0.267 [+0.133, +0.433], n=30: measurably better" in \
        steps["Each option against the others, on the same items (positive = better)"]
    assert [line[2:] for line in steps["The decision"][1:]] == report.recommendation.reason_texts
    assert steps["Caveats"] == [f"- {w}" for w in report.warnings]


def test_explain_says_what_was_held_out_as_the_report_does(ferry_report):
    report = Report.load(ferry_report)
    measured = explain(report)[0][1][0]
    assert measured.startswith("30 held-out questions from your QA file, never trained on.")
    report.evaluation.kind, report.evaluation.made = "probes", {"documents": 12, "candidates": 80}  # a run without a QA file
    measured = explain(report)[0][1][0]
    assert measured.startswith("30 probes made from the corpus (no QA file was given)")
    # the probes' facts are in the training documents and the index by design: only their wording is held out
    assert "Held out: each probe's wording, which nothing trains on. Not held out: the facts" in measured
    assert "none of them was trained on" not in measured
    assert measured == evaluation_text(report)  # the words of the report's Evaluation set section


def test_compare_says_whether_the_runs_scored_the_same_items(ferry_report):
    first = Report.load(ferry_report)
    second = copy.deepcopy(first)
    del second.arms["finetune_rag"]
    notes, rows = compare(first, second)
    assert notes[0].startswith("Both runs scored the same held-out items")
    assert ("finetune_rag: Answer containment", quality_cell(first.arms["finetune_rag"].quality["answer_containment"]),
            "not measured") in rows
    second.evaluation.items_fingerprint = "other"
    assert compare(first, second)[0][0].startswith("The runs scored different held-out items")


def test_explain_and_compare_from_the_command_line(tmp_path, run_cli, ferry_report):
    data = json.loads(ferry_report.read_text())
    data["config"]["corpus"] = "docs/[bold]odd[/bold] name"  # report text is printed as it is, never as markup
    data["recommendation"]["reasons"][0] = {"text": "RAG [wins] here.", "figure": "comparisons", "sources": []}
    (tmp_path / "report.json").write_text(json.dumps(data))
    run = lambda *args: run_cli(*args, env={**os.environ, "COLUMNS": "250"})  # noqa: E731
    result = run("explain", str(tmp_path))
    assert result.returncode == 0 and "6. The decision" in result.stdout
    assert "- RAG [wins] here. [figures: Improvements]" in result.stdout
    compared = run("compare", str(tmp_path), str(tmp_path))
    assert compared.returncode == 0 and "docs/[bold]odd[/bold] name" in compared.stdout
    missing = run("explain", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and missing.stderr.startswith("error:") and "Traceback" not in missing.stderr
