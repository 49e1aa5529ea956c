"""The fine-tune on two CPU processes (torchrun, DDP over gloo): it learns, the main process alone saves, the report
has its figures; stopped processes go on from their checkpoint; failed ones are one line."""

import json

import pytest

import advisor
from finetune.distributed import ERRORS_FILE, EXAMPLES_FILE, TrainingFailed, launch, write_job
from finetune.train import LoraSettings, latest_checkpoint


pytestmark = pytest.mark.slow  # each launch starts and imports the Trainer in two processes (10-15 s)


def test_a_run_trains_on_two_processes_and_reports_it(tiny_corpus, tiny_model_dir, tmp_path, fast_options):
    corpus, qa = tiny_corpus
    run = tmp_path / "run"
    events = []
    report = advisor.advise(corpus, goal="knowledge", qa=qa, base_model=str(tiny_model_dir), out=str(run),
                            on_progress=events.append, **dict(fast_options, processes=2, max_train_steps=6,
                                                             learning_rate=1e-2, full_context=False, forgetting=False))
    training = report.arms["finetune"].training
    assert training.processes == 2 and training.steps == 6 and training.tokens > 0
    losses = [entry["loss"] for entry in training.losses]
    assert [entry["step"] for entry in training.losses] == [1, 2, 3, 4, 5, 6] and losses[-1] < losses[0]
    assert [e.completed for e in events if e.stage == "train" and e.loss is not None] == [1, 2, 3, 4, 5, 6]
    assert any("on 2 processes (DDP)" in note for note in report.arms["finetune"].notes)
    assert json.loads((run / "training.json").read_text())["processes"] == 2
    # The adapter the main process saved is the one measured; the other process wrote none.
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
    saved = [line for line in (run / "train-job" / ERRORS_FILE).read_text().splitlines() if "adapter saved" in line]
    assert len(saved) == 1, saved
    assert not (run / "train-job" / EXAMPLES_FILE).exists()  # the training data's copy is gone once trained


def _job(tiny_model_dir, tmp_path, *, max_steps: int, budget_seconds: float):
    from advisor.models import load_generator, resolve_model
    from finetune.data import text_blocks

    _, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    examples = text_blocks(tokenizer, [f"The station at Orlen Bay {i} opened in 18{i:02d}." for i in range(40)],
                           block_size=16)
    return write_job(tmp_path / "job", model_path=tiny_model_dir, dtype="float32", examples=examples,
                     settings=LoraSettings(max_steps=max_steps, learning_rate=1e-2), device="cpu",
                     budget_seconds=budget_seconds, adapter_dir=tmp_path / "adapter",
                     checkpoint_dir=tmp_path / "checkpoints", save_every=2, save_seconds=0)


class Interrupt(Exception):
    pass


def test_stopped_processes_go_on_from_their_last_checkpoint(tiny_model_dir, tmp_path):
    job = _job(tiny_model_dir, tmp_path, max_steps=6, budget_seconds=600)

    def stop_after_three(step, planned, loss):
        if step == 3:
            raise Interrupt  # as a cancelled run does: the processes are stopped
    with pytest.raises(Interrupt):
        launch(job, 2, on_step=stop_after_three)
    assert not (tmp_path / "adapter").exists()
    assert latest_checkpoint(tmp_path / "checkpoints")[1]["step"] == 2

    steps = []
    result = launch(job, 2, on_step=lambda step, planned, loss: steps.append((step, planned)))
    assert result.resumed_from_step == 2 and result.steps == 6 and result.processes == 2
    assert steps == [(3, 6), (4, 6), (5, 6), (6, 6)]
    assert [entry["step"] for entry in result.losses] == [1, 2, 3, 4, 5, 6]  # the first steps' from the checkpoint
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()


def test_the_budget_stops_every_process_at_the_same_step(tiny_model_dir, tmp_path):
    # Each process has its own clock: a cut decided by each alone fell on different steps (2 runs in 3 broke the
    # processes' connection when one stopped first). A budget of 20 s: the launch takes 10-15 of them, and the
    # steps of the tiny model, some hundredths of a second each, fill the rest.
    steps = []
    result = launch(_job(tiny_model_dir, tmp_path, max_steps=5000, budget_seconds=20), 2,
                    on_step=lambda step, planned, loss: steps.append((step, planned)))
    assert result.stopped_by_budget and result.steps == result.planned_steps == steps[-1][0] == steps[-1][1]


def test_failed_processes_are_one_line_naming_their_error(tiny_model_dir, tmp_path):
    job = write_job(tmp_path / "job", model_path=tmp_path / "no-model", dtype="float32",
                    examples=[{"input_ids": [1, 2], "labels": [1, 2]}], settings=LoraSettings(max_steps=1),
                    device="cpu", budget_seconds=60, adapter_dir=tmp_path / "adapter")
    with pytest.raises(TrainingFailed) as info:
        launch(job, 2)
    message = str(info.value)
    assert "\n" not in message and message.startswith("the 2 training processes failed (exit status 1)")
    assert "no-model" in message and message.split(": ", 1)[1].startswith("OSError")


@pytest.mark.parametrize("device, error", [("cpu", "TrainingError"), ("mps", "DeviceError")])
def test_the_train_stage_says_what_failed_and_how_to_go_on(tmp_path, monkeypatch, device, error):
    from types import SimpleNamespace

    import torch

    import finetune.distributed
    from advisor import errors
    from advisor.cache import StageCache
    from advisor.config import AdvisorConfig
    from advisor.stages.context import RunContext
    from advisor.stages.train import train_on_processes

    def fail(job, processes, **options):
        raise TrainingFailed("the 2 training processes failed (exit status 1): RuntimeError: out of memory")
    monkeypatch.setattr(finetune.distributed, "launch", fail)
    ctx = RunContext(AdvisorConfig(corpus="c", processes=2), tmp_path, StageCache(tmp_path))
    models = SimpleNamespace(reference=SimpleNamespace(path=str(tmp_path)))
    model = SimpleNamespace(dtype=torch.float32, to=lambda device: None)
    with pytest.raises(getattr(errors, error)) as info:
        train_on_processes(ctx, models, model, [], LoraSettings(), tmp_path / "adapter", device=device,
                           on_step=None, budget_seconds=60)
    if device == "cpu":
        assert info.value.message.endswith("RuntimeError: out of memory")
        assert f"advisor run --resume {tmp_path}" in info.value.hint and ERRORS_FILE in info.value.hint
    else:
        assert "MPS" in info.value.message and not (tmp_path / "train-job").exists()
