"""The whole pipeline, through the Python API and the CLI, on a tiny corpus and a tiny local model."""

import json

import pytest

import advisor
from advisor.measure.summary import RANDOM_WEIGHTS
from advisor.measure.evidence import Training

def assert_published_default(recommendation, goal: str, choice: str) -> None:
    """The tiny model has random weights, so nothing is measured: the verdict is the goal's published default,
    at low confidence, and says so."""
    assert (recommendation.choice, recommendation.basis, recommendation.confidence) == (choice, "default", "low")
    assert recommendation.rule == ("Nothing could be measured (the base model is untrained): the published default "
                                   f"for goal {goal}.")
    assert recommendation.reason_texts[0].startswith("The base model has random or untrained weights")


def test_advise_knowledge_with_qa(tiny_corpus, tiny_model_dir, tmp_path, fast_options):
    corpus, qa = tiny_corpus
    reference = tmp_path / "reference.txt"
    reference.write_text("The weather was calm all week.\n\nThe station opened in spring.\n", encoding="utf-8")
    events = []
    report = advisor.advise(corpus, goal="knowledge", qa=qa, base_model=str(tiny_model_dir),
                            out=str(tmp_path / "run"), on_progress=events.append,
                            reference_text=str(reference),
                            constraints={"queries_per_month": 10_000, "data_changes": "weekly"}, **fast_options)
    assert_published_default(report.recommendation, "knowledge", "rag")
    assert list(report.arms) == ["base", "rag", "full_context", "finetune"]  # the tiny corpus fits a prompt
    whole = report.arms["full_context"]
    assert whole.latency_ms["extra_prompt_tokens"] > report.arms["rag"].latency_ms["extra_prompt_tokens"]
    assert "retrieval_hit_rate" not in whole.quality  # nothing is retrieved
    assert any(note.startswith("all 8 training documents in every prompt") for note in whole.notes)
    assert report.evaluation.full_context.fits is True
    for name, arm in report.arms.items():
        assert arm.quality["token_f1"]["n"] == 8 and arm.quality["exact_match"]["n"] == 8
        assert arm.quality["token_f1"]["warning"] == RANDOM_WEIGHTS  # the tiny model has random weights
        assert arm.latency_ms["p50"] > 0 and arm.latency_ms["p95"] >= arm.latency_ms["p50"]
        assert set(arm.cost_usd) == {"one_off", "per_1k_queries"}
    for metric in ("answer_containment", "token_recall", "answer_logprob"):
        assert report.arms["base"].quality[metric]["n"] == 8
    costs = report.costs
    assert costs.monthly_usd["rag"] == pytest.approx(report.arms["rag"].cost_usd["per_1k_queries"] * 10)
    assert costs.freshness_usd_per_month["finetune"] > 0 and costs.break_even is not None
    assert costs.projections["larger_model"]["parameters"] == 6_738_415_616
    assert report.config["constraints"]["data_changes"] == "weekly"
    rag_parts = report.arms["rag"].latency_ms["parts_p50"]
    assert set(rag_parts) == {"embed", "retrieve", "prompt", "first_token", "generate"}
    assert 0 < rag_parts["first_token"] <= rag_parts["generate"]
    assert "embed" not in report.arms["base"].latency_ms["parts_p50"]
    assert report.arms["rag"].latency_ms["extra_prompt_tokens"] > 0 == report.arms["base"].latency_ms["extra_prompt_tokens"]
    assert report.evaluation.primary_metric == "answer_containment"
    assert "sentence" in report.evaluation.primary_metric_meaning
    assert "rag_vs_base (answer_logprob)" in report.comparisons
    training = report.arms["finetune"].details["training"]
    steps = fast_options["max_train_steps"]
    assert training["steps"] == training["planned_steps"] == steps and training["steps_wanted"] == steps
    assert 0 < training["tokens"] and training["passes"] == steps * 4 / training["examples"]
    seen = Training.from_dict(training).seen_text()  # '1.5 passes over the data', or under one pass '40% of ...'
    assert any(f"optimizer steps ({seen}," in note for note in report.arms["finetune"].notes)
    assert report.arms["rag"].quality["retrieval_hit_rate"]["value"] > 0.5  # real MiniLM embeddings
    assert "warning" not in report.arms["rag"].quality["retrieval_hit_rate"]
    assert report.arms["rag"].cost_usd["one_off"] > 0 and report.arms["finetune"].cost_usd["one_off"] > 0
    assert report.arms["base"].cost_usd["one_off"] == 0
    assert report.arms["finetune"].quality["reference_perplexity"]["n"] == 2
    assert report.arms["base"].quality["reference_perplexity"]["value"] > 1
    assert any(note.startswith("forgetting: perplexity on your reference text") for note in report.arms["finetune"].notes)
    assert report.corpus.novelty["reference_perplexity"] == report.arms["base"].quality["reference_perplexity"]["value"]

    run = tmp_path / "run"
    on_disk = json.loads((run / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(report.to_dict(), default=str).replace("NaN", "null"))
    markdown = (run / "report.md").read_text()
    assert RANDOM_WEIGHTS in markdown and "reads **Answer containment** first" in markdown
    assert "## Projections (estimates, not measurements)" in markdown and "10,000 questions a month" in markdown
    assert "| Embed the question (ms) | not measured |" in markdown and "| Time to first token (ms) |" in markdown
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
    assert (run / "index").is_dir() and (run / "advisor.log").is_file()
    held_out = {p["question"] for p in json.loads((run / "eval_set.json").read_text())["pairs"]}
    assert len(held_out) == 8
    assert [e.stage for e in events if e.completed == 0][:3] == ["load", "models", "profile"]
    assert events[-1].stage == "report"


def test_cli_style_with_offline_fallback(tiny_corpus, tmp_path, run_cli):
    corpus, _ = tiny_corpus
    out = tmp_path / "style"
    result = run_cli("run", corpus, "--goal", "style", "--out", out, "--base-model", "someone/uncached-model",
                     "--offline-fallback", "--max-train-steps", "2", "--device", "cpu", "--max-new-tokens", "8",
                     "--no-forgetting", "--quiet", "--format-regex", "[^|]+", "--tune-embeddings", "never")
    assert result.returncode == 0, result.stderr
    # Random weights: nothing measured, and the headline says the choice is only the published default.
    assert "No measured recommendation" in result.stdout and f"{out}/report.html" in result.stdout
    assert "RANDOM WEIGHTS" in result.stdout  # the stand-in model is announced loudly
    data = json.loads((out / "report.json").read_text())
    assert data["evaluation"]["kind"] == "documents"
    assert data["evaluation"]["primary_metric"] == "format_match"  # --format-regex acts on the continuations
    for arm in data["arms"].values():
        assert arm["quality"]["perplexity"]["n"] >= 1 and arm["quality"]["perplexity"]["value"] > 1
        assert arm["quality"]["format_match"]["n"] == arm["quality"]["perplexity"]["n"]
    assert data["models"]["base"]["origin"] == "built locally"
    assert "forgetting not measured (--no-forgetting)" in data["arms"]["finetune"]["notes"]
    assert "reference_perplexity" not in data["arms"]["base"]["quality"] and "novelty" not in data["corpus"]
    assert_published_default(advisor.Report.load(out / "report.json").recommendation, "style", "finetune")


def test_fine_tune_with_rag_is_a_fourth_arm_everywhere(tiny_corpus, tiny_model_dir, tmp_path, fast_options):
    from advisor.api import STAGES

    corpus, qa = tiny_corpus
    events = []
    report = advisor.advise(corpus, goal="knowledge", qa=qa, base_model=str(tiny_model_dir), out=str(tmp_path / "run"),
                            finetune_rag=True, full_context=False, on_progress=events.append, **fast_options)
    assert list(report.arms) == ["base", "rag", "finetune", "finetune_rag"]
    assert_published_default(report.recommendation, "knowledge", "rag")  # a fourth arm changes no default
    both = report.arms["finetune_rag"]
    assert both.label == "the fine-tune with RAG" and both.quality["retrieval_hit_rate"]["n"] == 8
    assert both.details["training"] == report.arms["finetune"].details["training"]  # one fine-tune, two arms
    assert both.cost_usd["one_off"] > report.arms["finetune"].cost_usd["one_off"]  # training and indexing
    for key in ("finetune_rag_vs_base", "rag_vs_finetune_rag", "finetune_vs_finetune_rag"):
        assert key in report.comparisons
    header = next(line for line in (tmp_path / "run" / "report.md").read_text().splitlines() if line.startswith("| |"))
    assert header == "| | base | rag | finetune | finetune_rag |"
    assert "- **full_context**: not measured: switched off (--no-full-context)" in (tmp_path / "run" / "report.md").read_text()
    assert STAGES["finetune_rag"] == "Fine-tune + RAG answers"
    assert [e.completed for e in events if e.stage == "finetune_rag"][-1] == 8
    # No --reference-text: forgetting is measured on the shipped general text, and the corpus's novelty with it.
    assert any(note.startswith("forgetting: perplexity on the general text the advisor ships")
               for note in report.arms["finetune"].notes)
    assert report.arms["finetune_rag"].quality["reference_perplexity"]["n"] > 10  # its paragraphs
    markdown = (tmp_path / "run" / "report.md").read_text()
    assert "### Novelty for the base model\n\n- The base model's perplexity is" in markdown
    for section in ("Size", "Duplicates", "Personal data", "Style", "Freshness", "Evaluation set"):
        assert f"\n### {section}\n" in markdown
    assert "8 held-out questions from your QA file, never trained on." in markdown


def test_goal_both_measures_facts_and_style_on_four_arms(tiny_corpus, tiny_model_dir, tmp_path, fast_options):
    corpus, qa = tiny_corpus
    report = advisor.advise(corpus, goal="both", qa=qa, base_model=str(tiny_model_dir), out=str(tmp_path / "run"),
                            full_context=False, **fast_options)
    assert list(report.arms) == ["base", "rag", "finetune", "finetune_rag"]  # fine-tune + RAG on by default
    for arm in report.arms.values():
        assert arm.quality["answer_containment"]["n"] == 8  # the knowledge half
        assert arm.quality["perplexity"]["n"] >= 1 and "doc_nll_per_token" in arm.quality  # the style half
        # each held-out document's opening continued, and compared with the true text
        assert {"style_similarity", "stylometric_distance"} <= set(arm.quality)
    assert report.evaluation.style_metric == "doc_nll_per_token" and report.evaluation.style_n >= 1
    assert "rag_vs_base (doc_nll_per_token)" in report.comparisons
    # Each half falls back to its goal's default (random weights); together: retrieval for the facts, a fine-tune
    # for the style.
    recommendation = report.recommendation
    assert (recommendation.choice, recommendation.basis, recommendation.confidence) == ("both", "default", "low")
    assert recommendation.rule == ("Goal both: what the facts need and what the style needs, each decided on its own "
                                   "measure, put together.")
    assert recommendation.reason_texts[0] == ("For the facts (knowledge), on its own: rag (low confidence). "
                                              "For the style, on its own: finetune (low confidence).")
    held = {p["source"] for p in json.loads((tmp_path / "run" / "eval_set.json").read_text())["pairs"]}
    style_docs = set(json.loads((tmp_path / "run" / "eval_set.json").read_text())["documents"])
    assert style_docs and not style_docs & held


def test_a_run_budget_is_estimated_first_and_cuts_what_does_not_fit(tiny_corpus, tiny_model_dir, tmp_path,
                                                                    fast_options):
    """--max-minutes far below what the run needs: the fine-tune's budget shrinks to its 30-second floor and the
    whole-corpus arm is skipped with the reason (8 held-out questions are fewer than the 20 a cut keeps); the
    report keeps the estimate beside each stage's actual time."""
    corpus, qa = tiny_corpus
    events = []
    report = advisor.advise(corpus, goal="knowledge", qa=qa, base_model=str(tiny_model_dir), out=str(tmp_path / "run"),
                            on_progress=events.append, max_minutes=0.01, budget_minutes=5, **fast_options)
    estimate = report.evaluation.estimate
    assert estimate.text().startswith("about ") and estimate.total > 0
    assert "full_context" not in report.arms and report.evaluation.n == 8
    assert any("fine-tune's budget is 0.5 minutes instead of 5" in w for w in report.warnings), report.warnings
    assert any("whole-corpus arm was skipped" in w and "--max-minutes" in w for w in report.warnings)
    stages = [event.stage for event in events]
    assert stages.index("estimate") < stages.index("index") < stages.index("train")
    assert {"estimate", "index", "base", "rag", "train", "finetune"} <= set(report.evaluation.stage_seconds)
    assert set(estimate.stages) >= {"index", "base", "rag", "finetune", "train"}


def test_an_estimate_without_a_run_writes_nothing_even_when_it_builds_a_stand_in_model(tiny_corpus, tmp_path,
                                                                                       fast_options):
    corpus, qa = tiny_corpus
    out = tmp_path / "never-written"
    config = advisor.AdvisorConfig(corpus=str(corpus), goal="knowledge", qa=str(qa), out=str(out),
                                   base_model="someone/uncached-model", offline_fallback=True, **fast_options)
    estimate = advisor.estimate_run(config)
    assert not out.exists()
    assert {"base", "rag", "finetune", "train"} <= set(estimate.stages) and estimate.total > estimate.already > 0
