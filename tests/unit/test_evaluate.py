"""Measuring an arm: a warm-up answer that is not timed, then every part of every answer timed."""

from advisor.corpus.evalset import QAPair
from advisor.measure.evaluate import evaluate_qa_arm, qa_metrics
from advisor.measure.summary import summarize_arm
from rag.generation import Generation


def test_the_warm_up_is_not_timed_and_parts_are_kept():
    pairs = [QAPair(f"Question {i}?", "Berth 5") for i in range(6)]
    calls = []

    def answer(question):
        calls.append(question)
        seconds = 5.0 if len(calls) == 1 else 0.5  # the first call is slow, as a cold start is
        return (Generation("It leaves from Berth 5.", 40, 6, seconds, 0.1),
                "prompt", {"embed": 0.01, "retrieve": 0.02, "prompt": 0.001}, None)

    run = evaluate_qa_arm("rag", pairs, answer, lambda prompt, ref: -1.0, qa_metrics())
    assert len(calls) == 7 and calls[0] == calls[1]  # one warm-up, then every question once
    assert len(run.latencies) == 6 and run.parts["generate"] == [0.5] * 6
    assert run.parts["first_token"] == [0.1] * 6 and run.parts["embed"] == [0.01] * 6
    assert run.scores["answer_containment"] == [1.0] * 6

    report = summarize_arm(run, label="RAG", one_off_seconds=2.0, notes=[], usd_per_hour=3.6, untrained=False,
                           seed=0)
    assert report.latency_ms["parts_p50"]["first_token"] == 100.0  # milliseconds
    assert report.latency_ms["parts_p95"]["retrieve"] == 20.0
    assert report.latency_ms["prompt_tokens_mean"] == 40
    assert report.cost_usd["one_off"] == 2.0 * 3.6 / 3600


def test_a_continuation_is_compared_with_the_true_text_and_its_format_checked():
    from advisor.corpus.loading import Document
    from advisor.measure.evaluate import evaluate_style_arm
    from advisor.measure.metrics import line_format_share, stylometric_distance

    opening = " ".join(f"w{i}" for i in range(24))
    true_text = "REF-1 | North Loop | on time\nREF-2 | Outer Isles | late\nREF-3 | Night Mail | on time"
    docs = [Document("a.md", "a.md", f"{opening}\n{true_text}")]
    replies = {"good": "REF-4 | North Loop | late\nREF-5 | Outer Isles | on time\nREF-6 | Nig",
               "bad": "Well, the ferry was late today because of the weather, and everyone waited patiently."}
    runs = {}
    for name, reply in replies.items():
        runs[name] = evaluate_style_arm(
            name, docs, lambda doc: ("", {}), lambda text, context: (10.0, 5),
            lambda prompt, reply=reply: Generation(reply, 24, 20, 0.1, 0.01),
            embed=lambda texts: [[1.0, 0.0] if "REF" in t else [0.0, 1.0] for t in texts],
            format_regex=r"REF-\d+ \| [^|]+ \| (on time|late)")
    good, bad = runs["good"].scores, runs["bad"].scores
    assert good["format_match"] == [1.0] and bad["format_match"] == [0.0]  # the cut last line is not judged
    assert good["style_similarity"] == [1.0] and bad["style_similarity"] == [0.0]
    assert good["stylometric_distance"][0] < bad["stylometric_distance"][0]
    assert stylometric_distance(true_text, true_text) == 0.0
    assert line_format_share(r"\d+", "12\nab\n3") == 0.5 and line_format_share(r"\d+", "") == 0.0


def test_an_opening_keeps_its_line_breaks_and_ends_a_short_line():
    from advisor.measure.evaluate import split_opening

    lines = "\n".join(f"NOTICE {i} | North Loop | 2025-01-0{i} | delayed" for i in range(1, 9))
    opening, rest = split_opening(lines, 10)
    assert opening == "NOTICE 1 | North Loop | 2025-01-01 | delayed\nNOTICE 2 | North Loop | 2025-01-02 | delayed"
    assert rest.startswith("\nNOTICE 3") and opening + rest == lines
    prose = " ".join(f"word{i}" for i in range(100)) + "\nnext line"
    opening, rest = split_opening(prose, 24)
    assert opening.split() == [f"word{i}" for i in range(24)] and opening + rest == prose  # a long line is cut
    assert split_opening("just five words here now", 24) == ("just five words here now", "")
