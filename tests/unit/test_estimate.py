"""The run's time estimate and what --max-minutes cuts, on a made-up machine speed: no model is run."""

import dataclasses
from types import SimpleNamespace

import pytest

from advisor.config import AdvisorConfig
from advisor.corpus.evalset import EvalSet
from advisor.corpus.qa import QAPair
from advisor.corpus.loading import Document
from advisor.corpus.profile import CorpusProfile
from advisor.measure.estimate import LEAST_QUESTIONS, Estimate, Speed, most_that_fit, plan_run
from advisor.measure.whole_corpus import WholeCorpusFit

# A slow machine: 20 new tokens a second, 1,000 prompt tokens a second.
SLOW = Speed(forward_seconds=0.05, token_seconds=0.001, new_token_seconds=0.05, batch_share=0.5,
             embed_seconds=0.01, train_token_seconds=0.003)


class WordTokenizer:
    """One token per word; no chat template, so prompts take the plain form."""

    chat_template = None

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": list(range(len(text.split())))}


def _inputs(questions=100, corpus_tokens=5000, fits=True):
    models = SimpleNamespace(base=None, tokenizer=WordTokenizer(), embedder=SimpleNamespace(max_seq_length=128))
    documents = [Document(f"d{i}.txt", f"d{i}.txt", "words " * 500) for i in range(10)]
    evalset = EvalSet("qa", [QAPair(f"What is item number {i}?", str(i)) for i in range(questions)], [],
                      documents, [], [])
    profile = CorpusProfile(documents=10, tokens=corpus_tokens)
    whole = WholeCorpusFit(fits, corpus_tokens + 20, 8192, asked=True,
                           passages=[d.text for d in documents] if fits else None)
    return evalset, models, profile, whole


def _plan(max_minutes=None, budget_minutes=3.0, speed=SLOW, cuts=None, **inputs):
    cfg = AdvisorConfig(corpus="c", max_minutes=max_minutes, budget_minutes=budget_minutes, max_new_tokens=32)
    evalset, models, profile, whole = _inputs(**inputs)
    return plan_run(cfg, evalset, models, profile, whole, ["general text " * 50], already=5.0, speed=speed, cuts=cuts)


def test_without_a_run_budget_nothing_is_cut_and_every_stage_is_estimated():
    plan = _plan()
    stages = plan.estimate.stages
    assert set(stages) >= {"index", "base", "rag", "full_context", "finetune", "train"}
    assert len(plan.evalset.pairs) == 100 and plan.whole.fits and plan.train_budget_seconds == 180
    assert not plan.estimate.notes
    # Retrieval reads top_k passages and embeds each question: slower than the closed-book base model.
    assert stages["rag"] > stages["base"] == pytest.approx(stages["finetune"])
    assert plan.estimate.total == pytest.approx(5.0 + sum(stages.values()))
    assert 0 < stages["train"] <= 180


def test_answer_time_grows_with_the_questions_and_the_whole_corpus_prefix_is_paid_once():
    few, more, many = (_plan(questions=n).estimate.stages for n in (40, 80, 120))
    # Past the answers timed one at a time, each question adds the same (batched) time.
    assert many["base"] - more["base"] == pytest.approx(more["base"] - few["base"]) and many["base"] > more["base"]
    # The whole corpus (5,020 tokens, 5 s at 1,000 tokens a second) is computed once, not once per question.
    per_question = (many["full_context"] - more["full_context"]) / 40
    assert per_question < SLOW.prompt(5020), per_question  # computed whole: over twice that (answer and score)
    assert many["full_context"] > SLOW.prompt(5020) + many["base"]


def test_batching_shares_the_calls_and_new_tokens_but_not_a_long_prompts_tokens():
    few, more = (_plan(questions=n).estimate.stages for n in (40, 80))
    rag_prompt = AdvisorConfig(corpus="c").top_k * 128  # top_k passages of 128 tokens (the embedder's window)
    per_question = (more["rag"] - few["rag"]) / 40
    # Answering and scoring each read the retrieved passages, row by row, however the rows are batched.
    assert per_question >= 2 * rag_prompt * SLOW.token_seconds
    assert SLOW.in_batch(1000, 10) == pytest.approx(1.0 + (0.05 + 0.5) * 0.5)


def test_max_minutes_cuts_every_arm_to_the_same_seeded_subset_of_questions():
    full = _plan().estimate.total
    plan = _plan(max_minutes=0.8 * full / 60)
    kept = plan.evalset.pairs
    assert LEAST_QUESTIONS <= len(kept) < 100
    assert plan.estimate.total <= 0.9 * 0.8 * full  # planned with room (10% at least) for the estimate's error
    assert kept == sorted(kept, key=lambda pair: int(pair.answer))  # the file's order is kept
    assert kept == _plan(max_minutes=0.8 * full / 60).evalset.pairs  # the same subset every time
    assert any(f"same {len(kept)} of the 100" in note for note in plan.estimate.notes)
    assert plan.train_budget_seconds == 180  # the questions went first


def test_a_tight_run_budget_shrinks_the_fine_tune_then_skips_the_whole_corpus():
    plan = _plan(max_minutes=2.0, budget_minutes=3.0)
    assert len(plan.evalset.pairs) == LEAST_QUESTIONS
    assert plan.train_budget_seconds < 180
    assert any("fine-tune's budget" in note for note in plan.estimate.notes)
    tighter = _plan(max_minutes=0.5, budget_minutes=3.0)
    assert not tighter.whole.fits and "more than --max-minutes" in tighter.whole.skipped
    assert "full_context" not in tighter.estimate.stages


def test_a_resumed_run_makes_its_first_tries_cuts_whatever_the_machine_says_now():
    first = _plan(max_minutes=2.0)
    fast = dataclasses.replace(SLOW, forward_seconds=0.0, token_seconds=1e-6, new_token_seconds=1e-4,
                               train_token_seconds=1e-6)
    assert len(_plan(max_minutes=2.0, speed=fast).evalset.pairs) == 100  # on its own, a fast machine cuts nothing
    again = _plan(max_minutes=2.0, speed=fast, cuts=first.cuts)
    assert again.evalset.pairs == first.evalset.pairs and len(again.evalset.pairs) < 100
    assert again.train_budget_seconds == first.train_budget_seconds < 180


def test_most_that_fit_is_the_largest_count_within_the_limit_and_never_below_the_floor():
    def seconds(n):
        return 100 + 2 * n

    assert most_that_fit(seconds, 400, least=20, most=100) == 100
    assert most_that_fit(seconds, 250, least=20, most=100) == 75
    assert most_that_fit(seconds, 50, least=20, most=100) == 20


def test_the_estimate_reads_in_minutes_and_names_the_long_stages():
    estimate = Estimate({"index": 5.0, "base": 60.0, "rag": 120.0, "train": 180.0, "reference": 2.0}, {}, "",
                        already=20.0)
    assert estimate.text() == "about 6.5 min: answers 3, fine-tune 3"
    assert Estimate({"base": 12.0}, {}, "").text() == "about 10 s"


def test_the_report_gives_the_run_time_beside_the_estimate_stage_by_stage():
    from advisor.verdict.wording import run_time_text
    from advisor.verdict.report import Recommendation, Report

    estimate = Estimate({"index": 4.0, "base": 77.0, "train": 180.0, "reference": 0.4}, {}, "", already=60.0)
    report = Report(config={}, corpus={}, arms={}, recommendation=Recommendation("rag", "high", []),
                    evaluation={"wall_seconds": 546.0, "estimate": estimate.to_dict(),
                                "stage_seconds": {"index": 5.2, "base": 83.0, "train": 164.0}})
    assert run_time_text(report) == ("The run took 9.1 min; estimated before its slow stages: about 5.4 min: "
                                     "answers 1.3, fine-tune 3; by stage, index 4 s (took 5 s), base model answers 77 s "
                                     "(took 83 s), fine-tune 180 s (took 164 s).")
    report.evaluation.estimate = None
    assert run_time_text(report) is None


def test_tuning_the_embeddings_is_estimated_and_the_first_thing_max_minutes_cuts_when_only_auto_asked():
    def plan(**options):
        cfg = AdvisorConfig(corpus="c", budget_minutes=3.0, max_new_tokens=32, **options)
        evalset, models, profile, whole = _inputs()
        return plan_run(cfg, evalset, models, profile, whole, ["general text " * 50], already=5.0, speed=SLOW)

    stages = plan().estimate.stages
    assert "rag_tuned" in stages and stages["rag_tuned"] == pytest.approx(stages["rag"])
    assert 0 < stages["embeddings"] <= 120 + 1000 * SLOW.embed_seconds
    assert "embeddings" not in plan(tune_embeddings="never").estimate.stages
    full = plan().estimate.total
    cut = plan(max_minutes=(full - stages["embeddings"] - stages["rag_tuned"]) / 60 / 0.84)
    assert not cut.tune_embeddings and "rag_tuned" not in cut.estimate.stages
    assert any("not tuned" in note for note in cut.estimate.notes)
    assert len(cut.evalset.pairs) == 100  # nothing else was cut
    kept = plan(max_minutes=(full - stages["embeddings"] - stages["rag_tuned"]) / 60 / 0.84, tune_embeddings="always")
    assert kept.tune_embeddings and "embeddings" in kept.estimate.stages and len(kept.evalset.pairs) < 100


def test_training_on_ratings_is_estimated_from_how_many_there_are_within_its_budget(tmp_path):
    rated = tmp_path / "rated.jsonl"

    def plan(lines: int, minutes: float = 2.0):
        rated.write_text('{"question": "Q", "answer": "A", "good": true}\n' * lines, encoding="utf-8")
        cfg = AdvisorConfig(corpus="c", max_new_tokens=32, feedback_ratings=str(rated), tune_embeddings="never",
                            feedback_budget_minutes=minutes)
        evalset, models, profile, whole = _inputs()
        return plan_run(cfg, evalset, models, profile, whole, [], already=5.0, speed=SLOW).estimate.stages

    few, many = plan(8)["feedback"], plan(400)["feedback"]
    assert 0 < few < many and "finetune_feedback" in plan(8)
    assert plan(4000, minutes=1.0)["feedback"] == pytest.approx(60.0)  # no more than its budget
    assert "feedback" not in plan_run(AdvisorConfig(corpus="c"), *_inputs(), [], already=5.0, speed=SLOW).estimate.stages


def test_training_on_several_processes_is_estimated_with_their_start_and_within_its_budget():
    from advisor.measure.estimate import PROCESSES_START_SECONDS

    def train(processes: int, budget_minutes: float = 10.0) -> float:
        cfg = AdvisorConfig(corpus="c", max_new_tokens=32, budget_minutes=budget_minutes, max_train_steps=10,
                            processes=processes)
        return plan_run(cfg, *_inputs(), [], already=5.0, speed=SLOW).estimate.stages["train"]

    assert train(2) == pytest.approx(train(1) + PROCESSES_START_SECONDS)
    assert train(2, budget_minutes=0.1) == pytest.approx(6.0)  # the start is inside the fine-tune's budget
