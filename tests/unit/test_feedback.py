"""Ratings of answers: appended one whole line at a time, read back after a crash, summed up with intervals."""

import json

import pytest

from advisor.measure.feedback import (FeedbackError, Preference, Rating, append_feedback, parse_feedback,
                                      rated_answers, read_feedback, summarize, training_questions, wilson)


def test_ratings_are_appended_whole_and_read_back_and_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "run" / "feedback.jsonl"
    append_feedback(path, [Rating("Who?", "rag", "up", "Mara Velt"), Preference("Who?", "rag", "finetune")])
    append_feedback(path, [Rating("When?", "finetune", "down")])
    with open(path, "a", encoding="utf-8") as half_written:  # as a crash in mid-write would leave it
        half_written.write('{"kind": "rating", "question": "Whe')
    entries, problems = read_feedback(path)
    assert entries == [Rating("Who?", "rag", "up", "Mara Velt"), Preference("Who?", "rag", "finetune"),
                       Rating("When?", "finetune", "down")]
    assert len(problems) == 1 and problems[0].startswith("feedback.jsonl line 4 skipped: Unterminated string")
    assert read_feedback(tmp_path / "none.jsonl") == ([], [])


def test_each_line_is_checked_and_says_what_is_wrong():
    assert parse_feedback({"question": "Q", "arm": "rag", "rating": "good"}) == Rating("Q", "rag", "up")
    assert parse_feedback({"question": "Q", "better": "rag", "worse": "base"}) == Preference("Q", "rag", "base")
    for line, said in (({"question": "Q", "arm": "rag", "rating": "meh"}, "'rating' must be"),
                       ({"question": "", "arm": "rag", "rating": "up"}, "'question' must be a non-empty string"),
                       ({"question": "Q", "better": "rag", "worse": "rag"}, "name the same arm"),
                       ({"kind": "vote", "question": "Q"}, "'kind' must be"), ([1, 2], "JSON object")):
        with pytest.raises(FeedbackError, match=said):
            parse_feedback(line)


def test_the_last_word_counts_and_each_share_has_its_interval():
    entries = [Rating(f"q{i}", "rag", "up") for i in range(8)] + [Rating(f"q{i}", "rag", "down") for i in range(8, 10)]
    entries += [Rating("q0", "rag", "down"),  # changed their mind: q0 is now rated down
                Rating("q0", "finetune", "down"), Rating("q0", "gone", "up")]
    entries += [Preference(f"q{i}", "rag", "finetune") for i in range(9)] + [Preference("q9", "finetune", "rag")]
    evidence = summarize(entries, ["base", "rag", "finetune"])
    assert evidence.ratings["rag"] == {"up": 7, "down": 3, "n": 10, "good_share": 0.7, "ci95": wilson(7, 10)}
    assert evidence.ratings["finetune"]["n"] == 1 and "base" not in evidence.ratings and "gone" not in evidence.ratings
    pair = evidence.preferences["rag_over_finetune"]
    assert (pair["a_wins"], pair["n"]) == (9, 10) and pair["ci95"][0] > 0.5
    flipped = evidence.preference("finetune", "rag")
    assert (flipped["a_wins"], flipped["n"]) == (1, 10) and flipped["ci95"][1] < 0.5
    assert evidence.entries == len(entries)
    low, high = wilson(7, 10)
    assert 0.39 < low < 0.40 and 0.89 < high < 0.90  # the Wilson interval of 7 in 10
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0


def test_lines_written_are_json_a_script_can_read(tmp_path):
    path = tmp_path / "feedback.jsonl"
    append_feedback(path, [Rating("Q", "rag", "up", "A")])
    line = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert line["kind"] == "rating" and line["rating"] == "up" and line["answer"] == "A"


def _rated_run(tmp_path, ferry_report):
    run = tmp_path / "run"
    run.mkdir()
    (run / "report.json").write_text(ferry_report.read_text(encoding="utf-8"), encoding="utf-8")
    return run


def test_people_preferring_another_arm_is_a_reason_with_both_figures_and_caps_the_confidence(tmp_path, ferry_report):
    from advisor.verdict.ratings import with_feedback
    from advisor.verdict.report import Report

    run = _rated_run(tmp_path, ferry_report)
    report = Report.load(run / "report.json")
    assert report.recommendation.choice == "rag"
    append_feedback(run / "feedback.jsonl", [Preference(f"q{i}", "finetune", "rag") for i in range(10)]
                    + [Rating(f"q{i}", "rag", "up" if i < 3 else "down") for i in range(10)])
    rated = with_feedback(report, run)
    said = " ".join(rated.recommendation.reason_texts)
    assert "People preferred the LoRA fine-tune's answer to RAG's 10 of 10 (1.00, 95% CI 0.72 to 1.00), while answer " \
           "containment favours RAG (+0.267 (95% CI +0.133 to +0.433, n=30))" in said
    assert "People rated RAG's answers good 3 of 10" in said
    assert rated.recommendation.choice == "rag" and rated.recommendation.confidence == "medium"
    assert rated.feedback.preference("finetune", "rag")["a_wins"] == 10
    # Nobody disagreeing: the reasons say so, and nothing is capped.
    agreeing = tmp_path / "agreeing"
    agreeing.mkdir()
    append_feedback(agreeing / "feedback.jsonl", [Preference(f"q{i}", "rag", "finetune") for i in range(10)])
    calm = with_feedback(report, agreeing)
    assert "people preferred RAG's to the LoRA fine-tune's 10 of 10" in " ".join(calm.recommendation.reason_texts)
    assert Report.from_dict(json.loads(json.dumps(rated.to_dict()))).feedback == rated.feedback  # round trip
    assert "feedback" not in report.to_dict()  # a report nobody rated keeps its layout


def test_advisor_feedback_adds_a_file_skips_bad_lines_and_rewrites_the_report(tmp_path, ferry_report, run_cli):
    run = _rated_run(tmp_path, ferry_report)
    ratings = tmp_path / "ratings.jsonl"
    ratings.write_text("\n".join([json.dumps({"question": "Q1", "arm": "rag", "rating": "up"}),
                                  json.dumps({"question": "Q1", "better": "rag", "worse": "finetune"}),
                                  json.dumps({"question": "Q2", "arm": "nosuch", "rating": "up"}),
                                  "not json"]) + "\n", encoding="utf-8")
    result = run_cli("feedback", run, "--add", ratings)
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "ratings.jsonl line 4 skipped" in out and "this run has no arm 'nosuch'" in out
    assert "Added 2 of 4" in out and "RAG: rated good 1 of 1" in out
    lines = [json.loads(line) for line in (run / "feedback.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["kind"] for line in lines] == ["rating", "preference"] and all(line["at"] for line in lines)
    data = json.loads((run / "report.json").read_text(encoding="utf-8"))
    assert data["feedback"]["ratings"]["rag"]["up"] == 1
    assert "## People's ratings" in (run / "report.md").read_text(encoding="utf-8")
    assert 'id="feedback"' in (run / "report.html").read_text(encoding="utf-8")
    nothing = tmp_path / "nothing.jsonl"
    nothing.write_text("oops\n", encoding="utf-8")
    failed = run_cli("feedback", run, "--add", nothing)
    assert failed.returncode != 0 and "no rating" in failed.stderr + failed.stdout


def test_a_clear_verdict_that_people_contradict_is_held_with_medium_confidence():
    from advisor.verdict.decide import DecisionInputs, compare_arms, decide, primary_metric
    from advisor.verdict.report import ArmReport

    metric = primary_metric("knowledge", True, None)
    scores = {"base": [0.0] * 40, "rag": [1.0] * 30 + [0.0] * 10, "finetune": [0.0] * 40}
    arms = {name: ArmReport(quality={}, latency_ms={"p50": 100.0, "p95": 150.0},
                            cost_usd={"one_off": 0.01, "per_1k_queries": 0.003}) for name in scores}
    check = {"trained": True, "perplexity": 20.0, "uniform_perplexity": 49152.0}

    def decided(feedback):
        return decide(DecisionInputs.from_measurements("knowledge", metric, compare_arms(scores, metric, seed=0), arms,
                                                       check, 40, feedback=feedback))

    assert decided(None).confidence == "high"
    against = summarize([Preference(f"q{i}", "finetune", "rag") for i in range(12)], list(scores))
    held = decided(against)
    assert (held.choice, held.confidence) == ("rag", "medium")
    assert any(text.startswith("People preferred the LoRA fine-tune's answer to RAG's 12 of 12")
               for text in held.reason_texts)
    undecided = summarize([Preference("q1", "finetune", "rag"), Preference("q2", "rag", "finetune")], list(scores))
    assert decided(undecided).confidence == "high"  # one each way says nothing


def test_the_python_api_adds_ratings_as_dicts_and_says_which_it_left_out(tmp_path, ferry_report):
    import advisor

    run = _rated_run(tmp_path, ferry_report)
    report, added, left_out = advisor.add_feedback(run, [{"question": "Q", "arm": "rag", "rating": "up"},
                                                         {"question": "Q", "arm": "rag"}])
    assert [entry.arm for entry in added] == ["rag"] and report.feedback.ratings["rag"]["up"] == 1
    assert left_out == ["entry 2 skipped: 'rating' must be \"up\" or \"down\", not None"]
    assert report.run_dir == str(run) and advisor.Report.load(run / "report.json").feedback == report.feedback


def test_half_the_rated_questions_train_the_same_half_every_time():
    questions = [f"Who kept station {n}?" for n in range(9)]
    training = training_questions(questions + questions[:3], seed=0)  # a question rated twice counts once
    assert len(training) == 5 and training < set(questions)
    assert training_questions(list(reversed(questions)), seed=0) == training  # the order rated does not matter
    assert training_questions(questions, seed=1) != training  # the seed does
    assert training_questions([], seed=0) == set()


def test_rated_answers_take_the_answer_as_rated_and_each_preference_both_ways():
    answers = {("rag", "Q1"): "Mara Velt", ("finetune", "Q1"): "Osk Brann", ("base", "Q2"): "1911"}
    entries = [Rating("Q1", "rag", "up", "Mara Velt (as rated)"), Rating("Q2", "base", "down"),
               Preference("Q1", "rag", "finetune"), Rating("Q3", "base", "up"),  # Q3: no answer to be found
               Rating("Q2", "rag", "up", "1911"), Rating("Q2", "finetune", "down", "1911")]  # rated both ways
    rated = rated_answers(entries, lambda arm, question: answers.get((arm, question), ""))
    assert sorted(rated) == [("Q1", "Mara Velt", True), ("Q1", "Mara Velt (as rated)", True),
                             ("Q1", "Osk Brann", False)]


def test_kto_weighs_the_fewer_kind_of_answer_up_to_balance_the_two():
    from finetune.feedback import class_weights

    assert class_weights(7, 52) == (pytest.approx(52 / 7), 1.0)  # 7 x 52/7 good against 52 bad: even
    assert class_weights(30, 10) == (1.0, pytest.approx(3.0)) and class_weights(4, 4) == (1.0, 1.0)
    assert class_weights(5, 0) == (1.0, 1.0)
