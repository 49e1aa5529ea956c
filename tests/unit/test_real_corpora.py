"""The real-corpora benchmark's corpus building and summaries, on small hand-made inputs: no model is loaded."""

import gzip
import json
import re
import shlex

import pytest

from advisor.verdict.report import ArmReport, Recommendation, Report
from benchmarks.real_corpora import (CASES, CHANGELOG_FORMAT, CHANGELOG_LINES, advisor_commands, case_lines,
                                     case_rows, changelog_documents, changelog_header, distinct_questions,
                                     first_entries, fresh_run_folder, lines_in_format, main, merge_results,
                                     read_changelog, summarize_report, topic_documents, write_documents)

# Lines as they stand in changelogs on a Debian 12 machine (/usr/share/doc/*/changelog.Debian.gz), by kind.
REAL_LINES = {
    "header": ["bash (5.2.15-2) unstable; urgency=medium",
               "git (1:2.39.5-0+deb12u2) bookworm-security; urgency=high",
               "python3.11 (3.11.2-6+deb12u6) bookworm; urgency=medium",
               "bash (5.2~rc1-1) experimental; urgency=medium"],
    "item": ["  * Remove one more pdf file without source. Closes: #1024598.",
             "  * credential_format(): also encode <host>[:<port>]",
             "  *  CVE-2024-37371: an attacker can cause invalid memory reads by"],
    "contributor": ["  [ Sergio Durigan Junior ]", "  [janitor]"],
    "continuation": ["    (CVE-2024-52006)",
                     "    - Expanding unset arrays in an arithmetic context can cause a",
                     "      segmentation fault."],
    "sign-off": [" -- Matthias Klose <doko@debian.org>  Mon, 02 Jan 2023 13:06:21 +0100",
                 " -- Salvatore Bonaccorso <carnil@debian.org>  Sat, 11 Jan 2025 20:46:03 +0100",
                 " -- Jonathan Nieder <jrnieder@gmail.com>  Sun, 16 Jun 2024 17:37:10 +0000"],
    "blank": [""],
}
# Real lines outside the format (each from a changelog on this machine), and near misses a model might write.
OFF_FORMAT = ["  *Team upload",  # shared-mime-info: no space after the star
              "   - When asked to use a `.netrc` file for credentials **and** to follow HTTP",  # curl: 3 spaces
              "  + 35-keccak-Use-size_t-to-avoid-integer-overflow.patch: Fix wrong result for",  # libgcrypt20
              "* Remove one more pdf file without source.",  # not indented
              "bash (5.2.15-2) unstable",  # no urgency
              " -- Matthias Klose <doko@debian.org> Mon, 02 Jan 2023 13:06:21 +0100",  # one space before the date
              " -- Matthias Klose <doko@debian.org>  2023-01-02",  # not the Debian date
              " -- Matthias Klose  Mon, 02 Jan 2023 13:06:21 +0100",  # no address
              "The bash package was updated."]

CHANGELOG = """\
demo (1.2-1) unstable; urgency=medium

  * New upstream release.
    - Fixes a crash.

 -- Ann Example <ann@example.org>  Mon, 02 Jan 2023 13:06:21 +0100

demo (1.1-1) unstable; urgency=low

  * Second.

 -- Ann Example <ann@example.org>  Sun, 01 Jan 2023 10:00:00 +0100

demo (1.0-1) unstable; urgency=low

  * Initial release.

 -- Ann Example <ann@example.org>  Sat, 31 Dec 2022 10:00:00 +0100

# Older entries have been removed from this changelog.
"""


@pytest.mark.parametrize("kind", list(REAL_LINES))
def test_the_changelog_format_matches_each_kind_of_real_line(kind):
    for line in REAL_LINES[kind]:
        assert re.fullmatch(CHANGELOG_LINES[kind], line), line
        assert re.fullmatch(CHANGELOG_FORMAT, line), line


def test_the_changelog_format_refuses_lines_outside_it():
    for line in OFF_FORMAT:
        assert not re.fullmatch(CHANGELOG_FORMAT, line), line


def test_first_entries_ends_at_the_nth_sign_off_and_drops_what_follows_the_last():
    two = first_entries(CHANGELOG, 2)
    assert two.endswith(" -- Ann Example <ann@example.org>  Sun, 01 Jan 2023 10:00:00 +0100\n")
    assert "1.0-1" not in two and CHANGELOG.startswith(two)
    every = first_entries(CHANGELOG, 8)  # fewer entries than asked: all of them, without the trailing comment
    assert every.count("\n -- ") == 3 and "Older entries" not in every and every.endswith("+0100\n")
    assert first_entries("demo (1.0-1) unstable; urgency=low\n\n  * Unsigned.\n", 2) == ""
    assert first_entries(CHANGELOG.rstrip("\n").split("\n\n# Older")[0].rstrip("\n"), 3).endswith("+0100\n")


def test_changelog_header_names_the_source_package_and_version():
    assert changelog_header("\n" + CHANGELOG) == ("demo", "1.2-1")
    assert changelog_header("git (1:2.39.5-0+deb12u2) bookworm-security; urgency=high\n") == \
           ("git", "1:2.39.5-0+deb12u2")
    assert changelog_header("binutils (2.7-3):\n") is None  # an old, non-Debian first line
    assert changelog_header("") is None


def test_changelog_documents_takes_one_per_source_package_in_sorted_order():
    texts = {"zeta": CHANGELOG.replace("demo", "zeta"), "alpha": CHANGELOG.replace("demo", "alpha"),
             "alpha-doc": CHANGELOG.replace("demo", "alpha"),  # built from the same source as alpha
             "odd": "A free-form history.\n", "beta": CHANGELOG.replace("demo", "beta")}
    documents, used = changelog_documents(texts.get, ["zeta", "odd", "missing", "alpha-doc", "alpha", "beta"],
                                          entries=1)
    assert list(documents) == ["alpha.txt", "beta.txt", "zeta.txt"]
    assert documents["alpha.txt"] == first_entries(texts["alpha"], 1)
    assert used["packages"][0] == {"package": "alpha", "source": "alpha", "version": "1.2-1", "entries": 1,
                                   "characters": len(documents["alpha.txt"])}
    assert used["missing"] == ["missing"]
    assert [s["package"] for s in used["skipped"]] == ["alpha-doc", "odd"]
    assert "alpha" in used["skipped"][0]["reason"]
    limited, _ = changelog_documents(texts.get, ["zeta", "alpha", "beta"], entries=2, limit=2)
    assert list(limited) == ["alpha.txt", "beta.txt"] and limited["beta.txt"].count("\n -- ") == 2


def test_read_changelog_decompresses_and_says_none_when_absent(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "changelog.Debian.gz").write_bytes(gzip.compress(CHANGELOG.encode()))
    assert read_changelog("demo", tmp_path) == CHANGELOG
    assert read_changelog("absent", tmp_path) is None


def test_topic_documents_makes_one_file_per_topic():
    documents = topic_documents({"with": "The with statement", "atom-identifiers": "Identifiers\n\n",
                                 "a/b c": "odd name", "empty": "  \n"})
    assert documents == {"a_b_c.txt": "odd name\n", "atom-identifiers.txt": "Identifiers\n",
                         "with.txt": "The with statement\n"}


def test_lines_in_format_counts_the_non_blank_lines():
    assert lines_in_format(r"  \* .+", ["  * one\n\n  * two\n", "three\n   \n"]) == \
           {"lines": 3, "matching": 2, "share": 2 / 3}
    assert lines_in_format(CHANGELOG_FORMAT, [first_entries(CHANGELOG, 3)])["share"] == 1.0
    assert lines_in_format(r".*", [""])["share"] is None


def test_distinct_questions_drops_a_question_asked_before_as_the_qa_loader_compares_them(tmp_path):
    from advisor.corpus.qa import QAPair, load_qa

    pairs = [QAPair('File "<stdin>", line ___, in <module>', "4", "raise.txt", "eval"),
             QAPair("What is it?", "x", "a.txt", "eval"),
             QAPair('file <stdin>, LINE ___ in module', "1", "calls.txt", "eval")]  # the first, to the loader
    kept, dropped = distinct_questions(pairs)
    assert [pair.answer for pair in kept] == ["4", "x"] and dropped == 1
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps(pair.to_dict()) + "\n" for pair in kept))
    assert len(load_qa(qa)) == 2  # the file the benchmark writes is one the advisor reads


def test_write_documents_replaces_an_earlier_corpus(tmp_path):
    folder = tmp_path / "corpus"
    write_documents(folder, {"old.txt": "old\n"})
    write_documents(folder, {"new.txt": "new\n"})
    assert sorted(p.name for p in folder.iterdir()) == ["new.txt"]


def test_fresh_run_folder_removes_a_run_and_refuses_anything_else(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    fresh_run_folder(run)
    assert not run.exists()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="not a run folder"):
        fresh_run_folder(other)
    assert (other / "notes.txt").is_file()


def quality(value, n=60, low=None, high=None):
    return {"value": value, "n": n,
            "ci95": [value - 0.1 if low is None else low, value + 0.1 if high is None else high]}


def knowledge_report() -> dict:
    training = {"steps": 85, "planned_steps": 85, "passes": 3.7, "tokens": 46591, "seconds": 175.8,
                "budget_seconds": 180.0, "stopped_by_budget": True, "precision": "bf16", "examples": 91,
                "losses": [{"step": 1, "loss": 3.0}]}
    arms = {"base": ArmReport({"answer_containment": quality(0.0), "answer_logprob": quality(-7.2),
                               "token_f1": quality(0.01)}, {"p50": 1030.0}, {}, label="the base model"),
            "rag": ArmReport({"answer_containment": quality(0.27, low=0.13, high=0.43),
                              "answer_logprob": quality(-4.38, low=-4.5, high=-4.25),
                              "retrieval_hit_rate": quality(0.93)},
                             {"p50": 1360.0}, {}, label="RAG"),
            "finetune": ArmReport({"answer_containment": quality(0.0), "answer_logprob": quality(-5.17)},
                                  {"p50": 310.0}, {}, label="the LoRA fine-tune", details={"training": training})}
    recommendation = Recommendation("rag", "high", [{"text": "+0.27 over the base model", "figure": "comparisons"}],
                                    rule="one arm beats every other")
    return Report(config={}, corpus={"documents": 79, "characters": 464970, "words": 70000, "tokens": 110000,
                                     "style": {}},
                  arms=arms, recommendation=recommendation,
                  models={"base": {"name": "SmolLM2", "origin": "package", "note": "", "path": "/x"},
                          "base_check": {"trained": True}},
                  evaluation={"kind": "qa", "n": 60, "primary_metric": "answer_containment",
                              "primary_metric_meaning": "states the answer", "train_documents": 79,
                              "train_pairs": 0, "wall_seconds": 290.5},
                  comparisons={"rag_vs_base": {"metric": "answer_containment", "improvement": 0.27,
                                               "ci95": [0.13, 0.43], "n": 60},
                               "rag_vs_base (answer_logprob)": {"metric": "answer_logprob", "improvement": 2.8,
                                                                "ci95": [2.0, 3.5], "n": 60}},
                  warnings=["a warning"], created="2026-05-10T10:00:00+00:00").to_dict()


def test_summarize_report_keeps_the_verdict_and_each_arms_primary_metric_and_likelihood():
    summary = summarize_report(knowledge_report())
    assert summary["verdict"] == {"choice": "rag", "confidence": "high", "rule": "one arm beats every other",
                                  "basis": "measured", "reasons": ["+0.27 over the base model"]}
    rag = summary["arms"]["rag"]
    assert rag["primary"] == {"value": 0.27, "ci95": [0.13, 0.43], "n": 60}
    assert rag["likelihood"] == {"metric": "answer_logprob", "value": -4.38, "ci95": [-4.5, -4.25], "n": 60}
    assert rag["metrics"]["retrieval_hit_rate"]["value"] == 0.93 and rag["latency_p50_ms"] == 1360.0
    assert summary["arms"]["base"]["label"] == "the base model"
    assert list(summary["comparisons"]) == ["rag_vs_base"]  # the primary metric's only
    assert summary["finetune"] == {"steps": 85, "planned_steps": 85, "passes": 3.7, "tokens": 46591,
                                   "seconds": 175.8, "budget_seconds": 180.0, "stopped_by_budget": True,
                                   "precision": "bf16", "examples": 91}
    assert summary["wall_seconds"] == 290.5 and summary["date"] == "2026-05-10T10:00:00+00:00"
    assert summary["corpus_figures"] == {"documents": 79, "characters": 464970, "words": 70000, "tokens": 110000}
    assert summary["base_model"] == {"name": "SmolLM2", "origin": "package", "note": "", "trained": True}
    assert summary["evaluation"]["n"] == 60 and summary["warnings"] == ["a warning"]


def test_summarize_report_reads_a_style_run_by_its_own_primary_metric_and_held_out_loss():
    report = knowledge_report()
    report["evaluation"]["primary_metric"] = "format_match"
    for arm in report["arms"].values():
        quality_ = arm["quality"]
        quality_["format_match"] = quality(0.5, n=10)
        quality_["doc_nll_per_token"] = quality(2.5, n=10)
        del quality_["answer_logprob"]
    del report["arms"]["finetune"]
    summary = summarize_report(report)
    assert summary["arms"]["base"]["primary"]["value"] == 0.5
    assert summary["arms"]["base"]["likelihood"]["metric"] == "doc_nll_per_token"
    assert summary["finetune"] is None


def test_merge_results_replaces_the_cases_run_now_and_keeps_the_others():
    earlier = {"benchmark": "real_corpora", "device": "cpu",
               "cases": {"knowledge": {"date": "old"}, "style": {"date": "old"}}}
    merged = merge_results(earlier, {"style": {"date": "new"}}, "cpu")
    assert merged["cases"] == {"knowledge": {"date": "old"}, "style": {"date": "new"}}
    assert merge_results(None, {"knowledge": {"date": "new"}}, "cpu")["cases"] == {"knowledge": {"date": "new"}}


def test_case_rows_and_lines_show_the_figures():
    case = {**summarize_report(knowledge_report()), "seconds": 301.0}
    rows = case_rows(case)
    assert rows[1] == ("RAG", "0.27 [0.13, 0.43] n=60", "-4.38 [-4.50, -4.25] n=60")
    lines = case_lines(case)
    assert lines[0] == "verdict: rag (high confidence, basis measured); rule: one arm beats every other"
    assert lines[1] == "fine-tune: 85 steps (3.70 passes), 46,591 real tokens, 175.8 s of a 180 s budget, bf16"
    assert lines[2] == "advisor run 290 s; whole case 301 s" and lines[3] == "warning: a warning"
    own = {"lines": 2585, "matching": 2579, "share": 2579 / 2585}
    styled = {**case, "finetune": None, "warnings": [], "corpus": {"format_regex_on_the_corpus": own}}
    assert case_lines(styled)[1:] == ["the corpus's own lines in the format: 2,579 of 2,585 (99.8%)",
                                      "advisor run 290 s; whole case 301 s"]


def test_advisor_commands_quote_the_format_regex_so_a_shell_gives_it_back(tmp_path):
    style = next(case for case in CASES if case.name == "style")
    commands = advisor_commands(style, tmp_path / "corpus", None, tmp_path / "run",
                                {"budget_minutes": 3.0, "device": "cpu", "base_model": None})
    assert len(commands) == 1
    words = shlex.split(commands[0])
    assert words[words.index("--format-regex") + 1] == CHANGELOG_FORMAT
    assert words[:5] == ["advisor", "run", str(tmp_path / "corpus"), "--goal", "style"]
    knowledge = next(case for case in CASES if case.name == "knowledge")
    evalset, run = advisor_commands(knowledge, tmp_path / "c", tmp_path / "p.jsonl", tmp_path / "r",
                                    {"budget_minutes": 0.5, "device": "cpu", "base_model": "/m"})
    assert shlex.split(evalset)[-2:] == ["--max-probes", "60"]
    assert "--qa" in shlex.split(run) and shlex.split(run)[-2:] == ["--base-model", "/m"]
    assert "--budget-minutes 0.5" in run


def test_an_unknown_case_is_refused_before_anything_runs(tmp_path, capsys):
    # the unknown case first, and everything pointed into tmp_path: were the check broken, nothing would run
    with pytest.raises(SystemExit) as stopped:
        main(["--cases", "poetry,knowledge", "--out", str(tmp_path), "--json", str(tmp_path / "r.json"),
              "--base-model", str(tmp_path / "no-model")])
    assert stopped.value.code == 2 and "poetry" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
