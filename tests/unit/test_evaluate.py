"""Measuring an arm: a warm-up answer that is not timed, then every part of every answer timed."""

from advisor.corpus.qa import QAPair
from advisor.measure.evaluate import ArmRun, evaluate_qa_arm, qa_metrics
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
    replies = {"good": "\nREF-4 | North Loop | late\nREF-5 | Outer Isles | on time\nREF-6 | Nig",
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


FERRY_FORMAT = r"REF-\d+ \| [^|]+ \| (on time|late)"
FERRY_LINES = "REF-1 | North Loop | on time\nREF-2 | Outer Isles | late\nREF-3 | Night Mail | on time"


def _style_run(documents, reply_for, *, opening_words=24, format_regex=FERRY_FORMAT):
    """evaluate_style_arm with fakes: `reply_for(prompt)` is the continuation; embeddings tell table rows
    from the rest, and put an empty text near the rows (so only the rule for empties can score it 0)."""
    from advisor.measure.evaluate import evaluate_style_arm

    return evaluate_style_arm(
        "finetune", documents, lambda doc: ("", {}), lambda text, context: (10.0, 5),
        lambda prompt: Generation(reply_for(prompt), 24, 20, 0.1, 0.01), opening_words=opening_words,
        embed=lambda texts: [[0.6, 0.8] if not t.strip() else [1.0, 0.0] if "|" in t else [0.0, 1.0] for t in texts],
        format_regex=format_regex)


def test_a_continuation_is_scored_on_its_lines_as_written_joined_to_the_openings_last_line():
    from advisor.corpus.loading import Document

    changelog = ("binutils (2.41-6) unstable; urgency=medium\n\n  * Update from the 2.41 branch:\n"
                 "    - gas: Fix the build.\n    - ld/testsuite: Adjust for ELF_MAXPAGESIZE 0x1000.\n\n"
                 " -- Matthias Klose <doko@debian.org>  Mon, 20 Nov 2023 10:00:00 +0100\n")
    debian = r"\S+ \([^)]+\) [\w-]+; urgency=\w+|  \* .+|    .+| -- .+ <.+>  .+"
    run = _style_run([Document("changelog", "changelog", changelog)],
                     lambda prompt: "\n    - ld/testsuite: Adjust for ELF_MAXPAGESIZE 0x1000.\n    - ld/",
                     opening_words=12, format_regex=debian)
    assert run.samples[0]["opening"].endswith("    - gas: Fix the build.")
    assert run.scores["format_match"] == [1.0]  # its one complete line, indented as the format wants
    # an opening cut inside "REF-1 | North Loop | on time": the continuation's first piece finishes that line
    run = _style_run([Document("a.md", "a.md", FERRY_LINES)],
                     lambda prompt: " Loop | late\nREF-2 | Outer Isles | on time\nREF-3 | Nig", opening_words=3)
    assert run.samples[0]["opening"] == "REF-1 | North" and run.scores["format_match"] == [1.0]


def test_an_empty_continuation_counts_against_its_arm_on_every_measure():
    from advisor.corpus.loading import Document

    # no digits in the true text: an empty text's distance, if measured, would come out below 1
    rows = "Pier | North Loop | on time\nPier | Outer Isles | late\nPier | Night Mail | on time"
    documents = [Document(f"{i}.md", f"{i}.md", f"Departures board {i} for today.\n{rows}") for i in range(3)]
    replies = {"0": "", "1": "\n \n", "2": "\nPier | North Loop | late\nPier | Outer Isles | on time\n"}
    run = _style_run(documents, lambda prompt: replies[prompt.split()[2]], opening_words=5,
                     format_regex=r"Pier \| [^|]+ \| (on time|late)")
    assert run.extra["empty_continuations"] == 2  # nothing, and only white space
    assert [s.get("empty", False) for s in run.samples] == [True, True, False]
    assert run.scores["format_match"] == [0.0, 0.0, 1.0]
    # every item kept, the empty ones with the worst score: nothing in common, as far in style as it goes
    assert run.scores["style_similarity"] == [0.0, 0.0, 1.0]
    assert run.scores["stylometric_distance"][:2] == [1.0, 1.0] and run.scores["stylometric_distance"][2] < 1.0


def test_style_continuations_may_not_end_before_the_token_budget(monkeypatch):
    """Greedy decoding after a complete line can pick end-of-text first: a fine-tune left 6 of 8 empty."""
    from types import SimpleNamespace

    import advisor.measure.likelihood
    import rag.generation
    from advisor.corpus.loading import Document
    from advisor.measure.evaluate import measure_arm

    calls = []

    def generate(model, tokenizer, prompt, max_new_tokens=32, min_new_tokens=0, prefix=None, keep=False):
        calls.append(("style" if prompt.startswith("Departures") else "answer", max_new_tokens, min_new_tokens))
        return Generation("\nREF-4 | North Loop | late\n", 10, max_new_tokens, 0.1, 0.01)

    monkeypatch.setattr(rag.generation, "generate", generate)
    monkeypatch.setattr(rag.generation, "generate_batch", lambda *args, **kwargs: [])
    monkeypatch.setattr(advisor.measure.likelihood, "text_nll", lambda *args, **kwargs: (10.0, 5))
    monkeypatch.setattr(advisor.measure.likelihood, "answer_log_likelihood", lambda *args, **kwargs: -1.0)
    monkeypatch.setattr("rag.prompting.build_prompt", lambda tokenizer, question, passages: question)
    evalset = SimpleNamespace(pairs=[QAPair("Where?", "Berth 5")],
                              documents=[Document("a.md", "a.md", f"Departures board.\n{FERRY_LINES}\n{FERRY_LINES}")])
    arm = SimpleNamespace(name="finetune", model=None, retriever=None, passages=None)
    run = measure_arm(arm, evalset, None, max_new_tokens=16, metrics=qa_metrics())
    assert ("style", 16, 16) in calls  # a continuation uses its whole budget
    assert ("answer", 16, 0) in calls  # an answer still ends where the model ends it
    assert run.scores["answer_containment"] == [0.0] and "stylometric_distance" in run.scores


def test_an_arms_cached_scores_from_an_earlier_version_read_back_without_its_retired_fields():
    cached = {"name": "rag", "scores": {"exact_match": [1.0, 0.0]}, "latencies": [0.5, 0.7],
              "one_off_seconds": 2.0, "notes": ["kept by an earlier version"]}  # fields ArmRun no longer has
    run = ArmRun.from_dict(cached)
    assert run.name == "rag" and run.means() == {"exact_match": 0.5} and run.latencies == [0.5, 0.7]
