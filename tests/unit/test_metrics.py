"""Answer metrics, bootstrap intervals and latency summaries."""

import math

import pytest

from advisor.measure.metrics import (AnswerContainment, ExactMatch, FormatMatch, TokenF1, TokenRecall,
                                     bootstrap_ci, first_line, line_format_share, normalize_answer,
                                     paired_difference, perplexity_summary, summarize)
from advisor.measure.timing import latency_summary


def test_normalize_answer():
    assert normalize_answer("  The Orlen-Bay,  lighthouse! ") == "orlen bay lighthouse"


def test_exact_match_ignores_case_punctuation_and_articles():
    assert ExactMatch().score("the Mara Velt.", "Mara Velt") == 1.0
    assert ExactMatch().score("Mara", "Mara Velt") == 0.0


def test_token_f1_partial_overlap():
    assert TokenF1().score("Mara Velt", "Mara Velt") == 1.0
    assert TokenF1().score("Mara", "Mara Velt") == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert TokenF1().score("Dovan Rusk", "Mara Velt") == 0.0
    assert TokenF1().score("", "Mara") == 0.0


def test_format_match_is_a_full_match():
    metric = FormatMatch(r"~~ verily , .+ ~~")
    assert metric.score("~~ verily , Quorveth ~~ ") == 1.0
    assert metric.score("verily , Quorveth") == 0.0


# A Debian changelog: a header, "  * " items, indented continuations and a " -- " sign-off; the indentation
# is the format.
DEBIAN = r"\S+ \([^)]+\) [\w-]+; urgency=\w+|  \* .+|    .+| -- .+ <.+>  .+"
OPENING = "binutils (2.41-6) unstable; urgency=medium\n\n  * Update from the 2.41 branch:\n    - gas: Fix the"


def test_format_lines_are_matched_as_written():
    continuation = "\n    - ld/testsuite: Adjust for ELF_MAXPAGESIZE 0x1000.\n    - ld/"
    assert line_format_share(DEBIAN, continuation, OPENING + " build.") == 1.0  # its one complete line
    assert line_format_share(DEBIAN, "\n- ld/testsuite: Adjust.\n  * Upload.\r\n", OPENING) == 0.5  # not indented
    assert line_format_share(r"\d+", "12\r\n") == 1.0 and line_format_share(r"\d+", " 12\n") == 0.0  # CRLF ends a line


def test_only_complete_lines_count_and_the_first_piece_finishes_the_openings_line():
    # ".", the rest of "    - gas: Fix the", is judged as the line it completes
    assert line_format_share(DEBIAN, ".\n    - ld: Adjust.\n    - ld/", OPENING) == 1.0
    assert line_format_share(DEBIAN, " as.\nbinutils ships.\n", "  *Update") == 0.0  # "  *Update as." is not
    # a continuation that starts on a new line adds nothing to the opening's last line: that line is not its own
    assert line_format_share(DEBIAN, "\nbinutils ships.\n", OPENING + " build.") == 0.0
    # a line that no newline ends was cut by max_new_tokens, even when it is the only one
    assert line_format_share(r"\d+", "12") == 0.0 and line_format_share(DEBIAN, "\n    - ld/", OPENING) == 0.0
    assert line_format_share(r"\d+", "") == 0.0 and line_format_share(r"\d+", "\n\n") == 0.0


def test_first_line_takes_the_answer_line():
    assert first_line("\n  1894 \nQuestion: next") == "1894"
    assert first_line("~~ verily , law ~~ question : who is it ?") == "~~ verily , law ~~"


def test_first_line_joins_a_lead_in_to_the_answer_after_it():
    assert first_line("The answer is:\nBerth 5.\nMore text") == "The answer is: Berth 5."
    assert first_line("Answer:\nQuestion: next one") == "Answer:"


def test_containment_credits_a_right_answer_in_a_sentence():
    metric = AnswerContainment()
    assert metric.score("The mail ferry casts off from Berth 5 each night.", "Berth 5") == 1.0
    assert metric.score("It reaches 212 metres.", "212 metres") == 1.0
    assert metric.score("Berth 15", "Berth 5") == 0.0  # whole words only
    assert metric.score("Berth", "Berth 5") == 0.0
    assert metric.score("anything", "") == 0.0


def test_token_recall_ignores_extra_words():
    assert TokenRecall().score("Mara Velt kept the light", "Mara Velt") == 1.0
    assert TokenRecall().score("Mara", "Mara Velt") == 0.5
    assert TokenRecall().score("Dovan", "Mara Velt") == 0.0


def test_bootstrap_interval_brackets_the_mean():
    values = [0, 1] * 25
    low, high = bootstrap_ci(values, seed=0)
    assert low < 0.5 < high and 0.3 < low and high < 0.7
    assert bootstrap_ci([1.0] * 5) == (1.0, 1.0)
    summary = summarize(values)
    assert summary["value"] == 0.5 and summary["n"] == 50


def test_paired_difference_detects_a_consistent_lift():
    base = [0.0] * 30
    better = [1.0] * 20 + [0.0] * 10
    diff = paired_difference(better, base)
    assert diff["value"] == pytest.approx(2 / 3) and diff["ci95"][0] > 0


def test_perplexity_summary_pools_tokens():
    totals = [(math.log(10) * 4, 4), (math.log(10) * 6, 6)]
    summary = perplexity_summary(totals)
    assert summary["value"] == pytest.approx(10.0) and summary["n"] == 2
    assert all(math.isnan(v) for v in summary["ci95"])  # two documents: too few for an interval
    summary = perplexity_summary(totals * 3)
    assert summary["ci95"][0] == pytest.approx(10.0)


def test_latency_summary_percentiles_in_ms():
    summary = latency_summary([0.1] * 19 + [1.0])
    assert summary["p50"] == pytest.approx(100.0) and summary["p95"] > 100.0 and summary["n"] == 20


def test_every_measure_a_report_holds_is_in_the_registry_and_the_decision_reads_the_same_entries(ferry_report):
    import json

    from advisor.measure.metrics import METRICS
    from advisor.verdict.decide import ANSWER_LIKELIHOOD, primary_metric
    from advisor.verdict.wording import METRIC_LABELS

    data = json.loads(ferry_report.read_text())
    measured = {metric for arm in data["arms"].values() for metric in arm["quality"]}
    assert measured <= set(METRICS), measured - set(METRICS)
    assert primary_metric("knowledge", True, None) is METRICS["answer_containment"] is not None
    assert ANSWER_LIKELIHOOD is METRICS["answer_logprob"] and not METRICS["doc_nll_per_token"].higher_is_better
    assert METRIC_LABELS == {name: metric.title for name, metric in METRICS.items()}
