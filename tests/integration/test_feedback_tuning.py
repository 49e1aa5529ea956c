"""Training on people's ratings: KTO on a LoRA over the fine-tune within its budget, and `advisor tune --from-feedback`
on a finished run of the tiny model, measured fairly in a run folder of its own."""

import json

import pytest

import advisor
from advisor.measure.feedback import (FEEDBACK_FILE, Rating, append_feedback, read_feedback,
                                      training_questions)


def test_kto_trains_a_new_adapter_over_the_model_and_keeps_its_budget(tiny_model_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finetune.feedback import FeedbackUnavailable, RatedAnswer, train_on_ratings

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    prompt = "Question: Who was it?\nAnswer:"
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        before = model(ids).logits
    examples = [RatedAnswer(prompt, " the station opened" if n % 2 else " nobody", bool(n % 2)) for n in range(8)]
    steps = []
    peft_model, training = train_on_ratings(model, tokenizer, examples, tmp_path / "adapter", rank=4, alpha=8,
                                            target_modules="all-linear", budget_seconds=600, learning_rate=5e-3,
                                            epochs=2, on_step=lambda *step: steps.append(step))
    assert training.steps == training.planned_steps == 4 and not training.stopped_by_budget
    assert (training.examples, training.good, training.bad) == (8, 4, 4) and len(steps) == 4
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    with torch.no_grad():
        after = peft_model(ids).logits
        with peft_model.disable_adapter():
            unchanged = peft_model(ids).logits
    assert not torch.allclose(before, after)  # the ratings moved the answers
    assert torch.allclose(before, unchanged)  # and the fine-tune under the new layers is as it was
    with pytest.raises(FeedbackUnavailable, match="needs at least 8, with at least 2 good and 2 bad"):
        train_on_ratings(model, tokenizer, examples[:7], tmp_path / "few", rank=4, alpha=8,
                         target_modules="all-linear", budget_seconds=60, learning_rate=1e-3)


def _rate_held_out(run_dir, report, questions: int):
    """Ratings on the first `questions` held-out questions: RAG's answer good (the reference), the base model's bad."""
    samples = report.arms["rag"].details["samples"][:questions]
    append_feedback(run_dir / FEEDBACK_FILE, [
        entry for sample in samples for entry in (
            Rating(sample["question"], "rag", "up", sample["reference"]),
            Rating(sample["question"], "base", "down", f"not {sample['reference']}"))])
    return [sample["question"] for sample in samples]


def test_tune_from_feedback_measures_the_rated_fine_tune_on_questions_no_rating_trained(
        tiny_corpus, tiny_model_dir, tmp_path, fast_options, run_cli):
    corpus, qa = tiny_corpus
    options = {**fast_options, "full_context": False}
    run_dir = tmp_path / "run"
    report = advisor.advise(corpus, goal="knowledge", qa=qa, base_model=str(tiny_model_dir), out=str(run_dir),
                            **options)
    held_out = [sample["question"] for sample in report.arms["base"].details["samples"]]
    assert len(held_out) == 8

    rated = _rate_held_out(run_dir, report, 3)
    few = run_cli("tune", str(run_dir), "--from-feedback")
    assert few.returncode == 2 and "Traceback" not in few.stderr
    assert "needs at least 8, with at least 2 good and 2 bad" in few.stderr and "rated question" in few.stderr

    rated = _rate_held_out(run_dir, report, 8)
    training = training_questions(rated, 0)
    assert len(training) == 4 and training < set(rated)
    events = []
    tuned = advisor.tune_from_feedback(run_dir, budget_minutes=1, on_progress=events.append)
    new_dir = tmp_path / "run-feedback"
    # The run's own fine-tune is trained further, not trained again: the questions set aside stay out of its data.
    assert any(e.stage == "train" and "reused from an earlier run" in (e.message or "") for e in events)
    assert tuned.run_dir == str(new_dir) and (new_dir / "report.md").is_file()
    assert list(tuned.arms) == ["base", "rag", "finetune", "finetune_feedback"]
    # Every arm is measured on the held-out questions no rating trained on, and only on those.
    for arm in tuned.arms.values():
        assert sorted(s["question"] for s in arm.details["samples"]) == sorted(q for q in held_out
                                                                               if q not in training)
    note = next(n for n in tuned.arms["finetune_feedback"].notes if "KTO" in n)
    assert f"{2 * len(training)} rated answers ({len(training)} good, {len(training)} bad)" in note
    assert f"the {len(training)} held-out question(s) those ratings answered are left out" in note
    assert "finetune_feedback_vs_finetune" in tuned.comparisons or "finetune_vs_finetune_feedback" in tuned.comparisons
    # The training ratings are in the new folder's training file, the others kept as its evidence.
    lines = [json.loads(line) for line in (new_dir / "feedback_training.jsonl").read_text().splitlines()]
    assert sorted({line["question"] for line in lines}) == sorted(training)
    evidence, _ = read_feedback(new_dir / FEEDBACK_FILE)
    assert evidence and not {e.question for e in evidence} & set(training)
    assert tuned.feedback.ratings["rag"]["n"] == 8 - len(training)
    assert (run_dir / "report.json").is_file() and not (run_dir / "feedback_adapter").exists()  # the old run stays
    text = (new_dir / "report.md").read_text()
    assert "finetune_feedback" in text and "Trained on people's ratings" in text

    # Again: the training on ratings is reused, not run twice.
    again = advisor.tune_from_feedback(run_dir, budget_minutes=1)
    assert (again.arms["finetune_feedback"].details.get("one_off_seconds")
            == tuned.arms["finetune_feedback"].details.get("one_off_seconds"))
    assert json.loads((new_dir / "feedback_training.json").read_text())["steps"] >= 1
