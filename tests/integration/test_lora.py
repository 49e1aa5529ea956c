"""A real LoRA step on the tiny model: the adapter learns, is saved as safetensors, and loads back."""

import pytest
import torch

from advisor.models import load_generator, resolve_model
from finetune.data import IGNORE_INDEX, answer_examples, text_blocks
from finetune.train import LoraSettings, load_adapter, train_lora
from rag.prompting import build_prompt, encode_prompt


def test_train_save_and_load_adapter(tiny_model_dir, tmp_path):
    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    examples = text_blocks(tokenizer, ["The station at Orlen Bay opened in 1894."] * 8, block_size=16)
    examples += answer_examples(tokenizer, [(build_prompt(tokenizer, "When did it open?"), "1894")], 64,
                                encode_prompt)
    qa = examples[-1]
    assert qa["labels"][0] == IGNORE_INDEX and qa["labels"][-1] == tokenizer.eos_token_id
    steps = []
    peft_model, result = train_lora(model, tokenizer, examples, LoraSettings(max_steps=4, learning_rate=1e-2),
                                    tmp_path / "adapter", device="cpu", budget_seconds=600,
                                    on_step=lambda step, planned, loss: steps.append((step, planned)))
    assert steps[-1] == (4, 4) and result.steps == 4 and not result.stopped_by_budget
    assert result.losses and result.tokens > 0 and result.trainable_parameters > 0
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    lora_b = [p for n, p in peft_model.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # lora_B starts at zero: it moved

    fresh, _ = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    loaded = load_adapter(fresh, tmp_path / "adapter")
    ids = torch.tensor([encode_prompt(tokenizer, "Question: x\nAnswer:")])
    with torch.no_grad():
        assert torch.allclose(loaded(input_ids=ids).logits, peft_model(input_ids=ids).logits, atol=1e-5)


def test_time_budget_stops_training(tiny_model_dir, tmp_path):
    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    examples = text_blocks(tokenizer, ["Some corpus text for the budget test."] * 20, block_size=8)
    _, result = train_lora(model, tokenizer, examples, LoraSettings(max_steps=50), tmp_path / "adapter",
                           device="cpu", budget_seconds=0)
    assert result.stopped_by_budget and result.steps == 1


class _Stop(Exception):
    pass


def test_an_interrupted_training_goes_on_from_its_last_complete_checkpoint(tiny_model_dir, tmp_path):
    from finetune.train import COMPLETE, latest_checkpoint

    _, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    examples = text_blocks(tokenizer, [f"The station at Orlen Bay {i} opened in 18{i:02d}." for i in range(40)],
                           block_size=16)
    settings = LoraSettings(max_steps=6, learning_rate=1e-2, seed=3, dropout=0.1)  # random state to restore

    def train(checkpoints, on_step=None, save_seconds=0):
        model, _ = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
        return train_lora(model, tokenizer, examples, settings, tmp_path / "adapter", device="cpu", budget_seconds=600,
                          checkpoint_dir=checkpoints, save_every=2, save_seconds=save_seconds, on_step=on_step)

    whole_model, whole = train(tmp_path / "whole")
    # Within save_seconds of the last checkpoint (or of the start) none is written: fast steps are not slowed.
    train(tmp_path / "rare", save_seconds=3600)
    assert latest_checkpoint(tmp_path / "rare") is None

    def stop_after_three(step, planned, loss):
        if step == 3:
            raise _Stop  # as a kill would: checkpoint-2 is complete, step 3 is lost
    with pytest.raises(_Stop):
        train(tmp_path / "cut", stop_after_three)
    folder, marker = latest_checkpoint(tmp_path / "cut")
    assert folder.name == "checkpoint-2" and marker["step"] == 2
    half = tmp_path / "cut" / "checkpoint-4"
    half.mkdir()
    (half / "adapter_model.safetensors").write_bytes(b"half-written")  # no marker: ignored
    assert latest_checkpoint(tmp_path / "cut")[0].name == "checkpoint-2" and not (half / COMPLETE).exists()

    resumed_model, resumed = train(tmp_path / "cut")
    assert resumed.resumed_from_step == 2 and resumed.steps == whole.steps == 6
    # The optimizer, the schedule, the random state (LoRA dropout) and the data order were restored.
    assert [l["loss"] for l in resumed.losses] == pytest.approx([l["loss"] for l in whole.losses], abs=1e-3)
    weights = {n: p for n, p in whole_model.named_parameters() if "lora_" in n}
    for name, parameter in resumed_model.named_parameters():
        if "lora_" in name:
            assert torch.allclose(parameter, weights[name], atol=1e-4), name


def test_the_loss_from_labelled_positions_equals_the_models_own_with_the_same_gradients(tiny_model_dir, monkeypatch):
    """Text blocks (every token a label) and question/answer pairs (the answer only), padded together: the logits of
    labelled positions alone give the loss and LoRA gradients of the model's own loss over every position, whether
    the frozen output layer's logits are made a few positions at a time or all at once."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import DataCollatorForSeq2Seq

    import finetune.loss
    from finetune.loss import accepts_positions, frozen_plain_head, labelled_positions_loss

    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    torch.manual_seed(0)
    peft_model = get_peft_model(model, LoraConfig(task_type=TaskType.CAUSAL_LM, r=4, lora_dropout=0.0,
                                                  target_modules="all-linear", init_lora_weights=False))
    examples = text_blocks(tokenizer, ["The station at Orlen Bay opened in 1894 and closed in 1960."], 12)
    examples += answer_examples(tokenizer, [(build_prompt(tokenizer, "When did the station open?"), "In 1894.")], 64,
                                encode_prompt)
    batch = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX)(examples)
    assert accepts_positions(peft_model) and (batch["labels"] == IGNORE_INDEX).any()

    def loss_and_gradients(compute):
        peft_model.zero_grad()
        loss = compute()
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in peft_model.parameters() if p.requires_grad]

    own, own_grads = loss_and_gradients(lambda: peft_model(**batch).loss)
    head = peft_model.get_output_embeddings()
    assert frozen_plain_head(peft_model) is head.weight  # a Llama: the slice-at-a-time path
    vocabulary = head.weight.shape[0]
    monkeypatch.setattr(finetune.loss, "DEFAULT_SLICE_BYTES", 4 * vocabulary * 5)  # slices of 5 positions
    ours, our_grads = loss_and_gradients(lambda: labelled_positions_loss(peft_model, batch)[0])
    assert peft_model.get_output_embeddings() is head  # the output layer is put back
    assert torch.allclose(ours, own, atol=1e-6), (ours, own)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(our_grads, own_grads))
    monkeypatch.setattr(finetune.loss, "PLAIN_OUTPUT_LAYER", frozenset())  # an architecture that changes its logits
    assert frozen_plain_head(peft_model) is None
    whole, whole_grads = loss_and_gradients(lambda: labelled_positions_loss(peft_model, batch)[0])
    assert torch.allclose(whole, own, atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(whole_grads, own_grads))
    # Divided by a count given for a whole accumulated batch, as the Trainer passes it.
    labels = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    halved, _ = labelled_positions_loss(peft_model, batch, num_items_in_batch=2 * labels)
    assert torch.allclose(halved, own / 2, atol=1e-6)


def test_training_takes_its_loss_from_the_labelled_positions(tiny_model_dir, tmp_path, monkeypatch):
    import finetune.train

    calls = []
    real = finetune.train.labelled_positions_loss
    monkeypatch.setattr(finetune.train, "labelled_positions_loss", lambda *a, **k: calls.append(1) or real(*a, **k))
    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    examples = text_blocks(tokenizer, ["The station at Orlen Bay opened in 1894."] * 4, block_size=16)
    train_lora(model, tokenizer, examples, LoraSettings(max_steps=2), tmp_path / "adapter", device="cpu",
               budget_seconds=600)
    assert len(calls) == 2  # one pass a step: the tiny model takes its whole batch at once


def test_the_gpu_probe_runs_passes_of_the_longest_examples_and_leaves_no_gradient(tiny_model_dir):
    from peft import LoraConfig, TaskType, get_peft_model
    from finetune.gpu_batch import probe_training
    from finetune.packing import PackedCollator
    from finetune.loss import labelled_positions_loss

    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    peft_model = get_peft_model(model, LoraConfig(task_type=TaskType.CAUSAL_LM, r=4, target_modules="all-linear"))
    examples = text_blocks(tokenizer, ["short text", "a much longer text about the station at Orlen Bay " * 4], 64)
    before = {n: p.clone() for n, p in peft_model.named_parameters()}
    seen, peaks = [], iter([70.0, 65.0, 90.0, 95.0])  # the warm-up passes are not measured
    # packed rows as long as the longest example, as a GPU's training collates them (finetune.train._collator)
    collate = PackedCollator(tokenizer.pad_token_id, max(len(e["input_ids"]) for e in examples))

    def collate_and_see(batch):
        seen.append([len(e["input_ids"]) for e in batch])
        return collate(batch)

    losses = []

    def loss_of(model, batch):  # the loss training takes is the one measured
        losses.append(len(batch["input_ids"]))
        return labelled_positions_loss(model, batch)[0]

    probe = probe_training(peft_model, collate_and_see, examples, (1, 4), device="cpu", bf16=False,
                           memory=(lambda: 10.0, lambda held: next(peaks) - held), loss_of=loss_of)
    longest = max(len(e["input_ids"]) for e in examples)
    # Each size's batch, of the longest examples, warmed up, then timed twice (the fastest time, the highest peak).
    assert seen == [[longest], [longest] * 4]
    assert losses == [1, 1, 1, 4, 4, 4]
    assert probe.sizes == (1, 4) and probe.peak_bytes == (60.0, 85.0) and all(s > 0 for s in probe.seconds)
    assert all(p.grad is None for p in peft_model.parameters())
    assert all(torch.equal(p, before[n]) for n, p in peft_model.named_parameters())


def test_packed_batches_give_the_loss_and_gradients_of_the_same_examples_padded(tiny_model_dir):
    """Examples of very different lengths packed in rows (PackedCollator): each attends to itself alone, so the
    loss and the LoRA gradients are those of the same examples padded, and the real tokens are counted alike."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import DataCollatorForSeq2Seq

    from finetune.loss import labelled_positions_loss
    from finetune.packing import PackedCollator, real_tokens

    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    torch.manual_seed(0)
    peft_model = get_peft_model(model, LoraConfig(task_type=TaskType.CAUSAL_LM, r=4, lora_dropout=0.0,
                                                  target_modules="all-linear", init_lora_weights=False))
    examples = text_blocks(tokenizer, ["The station at Orlen Bay opened in 1894 and closed in 1960. " * 3], 24)
    examples += answer_examples(tokenizer, [(build_prompt(tokenizer, q), a) for q, a in
                                            [("When did the station open?", "In 1894."), ("And close?", "1960")]],
                                64, encode_prompt)
    longest = max(len(e["input_ids"]) for e in examples)
    padded = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX)(examples)
    packed = PackedCollator(tokenizer.pad_token_id, longest)(examples)
    assert "attention_mask" not in packed and len(packed["input_ids"]) < len(examples)  # some rows hold several

    def loss_and_gradients(batch):
        peft_model.zero_grad()
        loss = labelled_positions_loss(peft_model, batch)[0]
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in peft_model.parameters() if p.requires_grad]

    (padded_loss, padded_grads), (packed_loss, packed_grads) = map(loss_and_gradients, (padded, packed))
    assert torch.allclose(packed_loss, padded_loss, atol=1e-5), (packed_loss, padded_loss)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(packed_grads, padded_grads))
    total = sum(len(e["input_ids"]) for e in examples)
    assert int(real_tokens(packed)) == int(real_tokens(padded)) == total


def test_training_on_packed_batches_counts_real_tokens(tiny_model_dir, tmp_path):
    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    examples = text_blocks(tokenizer, ["The station at Orlen Bay opened in 1894."] * 3, block_size=16)
    examples += answer_examples(tokenizer, [(build_prompt(tokenizer, "When did it open?"), "1894")], 64,
                                encode_prompt)
    _, result = train_lora(model, tokenizer, examples, LoraSettings(max_steps=2, batch_size=4, packing=True),
                           tmp_path / "adapter", device="cpu", budget_seconds=600)
    assert result.steps == 2 and result.tokens == 2 * sum(len(e["input_ids"]) for e in examples)


def test_training_with_compiled_layers_learns_what_eager_training_does_and_ends_eager(tiny_model_dir, tmp_path,
                                                                                       monkeypatch):
    import finetune.compiled_layers as compiled_layers
    from finetune.compiled_layers import decoder_layers

    monkeypatch.setattr(compiled_layers, "BACKEND", "eager")  # the wiring, without generating code (slow on 2 cores)
    _, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    examples = text_blocks(tokenizer, [f"The station at Orlen Bay {i} opened in 18{i:02d}." for i in range(6)],
                           block_size=16)

    def train(compile_layers: bool | None):
        model, _ = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
        compiled_during = []
        peft_model, result = train_lora(
            model, tokenizer, examples, LoraSettings(max_steps=3, learning_rate=1e-2, compile_layers=compile_layers,
                                                     packing=True),
            tmp_path / f"adapter-{compile_layers}", device="cpu", budget_seconds=600,
            on_step=lambda *_: compiled_during.append(all(layer._compiled_call_impl is not None
                                                          for layer in decoder_layers(model))))
        return peft_model, result, compiled_during

    eager_model, eager, eager_during = train(None)  # the default: on a CPU, never compiled
    compiled_model, compiled, compiled_during = train(True)
    assert compiled.compiled and not eager.compiled
    assert compiled_during == [True] * 3 and eager_during == [False] * 3
    assert all(layer._compiled_call_impl is None for layer in decoder_layers(compiled_model))  # generation: eager
    eager_weights = dict(eager_model.named_parameters())
    for name, weight in compiled_model.named_parameters():
        if "lora_" in name:
            assert torch.allclose(weight, eager_weights[name], atol=1e-6), name


def test_on_a_device_that_chooses_training_compiles_its_layers_after_measuring_steps_where_that_pays(
        tiny_model_dir, tmp_path, monkeypatch):
    import finetune.compiled_layers as compiled_layers
    import finetune.train as train
    from finetune.compiled_layers import decoder_layers

    monkeypatch.setattr(compiled_layers, "BACKEND", "eager")
    monkeypatch.setattr(train, "AUTO_COMPILE_DEVICES", ("cpu",))  # as a CUDA GPU would choose
    asked = []

    def pays(eager_left, left):
        asked.append((eager_left, left))
        return pays.answer

    monkeypatch.setattr(train, "compile_pays", pays)
    _, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    examples = text_blocks(tokenizer, [f"The station at Orlen Bay {i} opened in 18{i:02d}." for i in range(6)],
                           block_size=16)

    def train_with(answer: bool):
        pays.answer = answer
        model, _ = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
        during = []
        _, result = train_lora(model, tokenizer, examples, LoraSettings(max_steps=7, learning_rate=1e-2),
                               tmp_path / f"adapter-{answer}", device="cpu", budget_seconds=600,
                               on_step=lambda *_: during.append(all(layer._compiled_call_impl is not None
                                                                    for layer in decoder_layers(model))))
        return result, during

    result, during = train_with(True)
    # Chosen once, after step 4, from the measured steps: the 3 steps left, the budget left.
    (eager_left, left), = asked
    assert 0 < eager_left < left <= 600
    # Seen after each step: compiled from the end of step 4, so that steps 5 to 7 run compiled.
    assert during == [False] * 3 + [True] * 4 and result.compiled and result.steps == 7
    result, during = train_with(False)
    assert during == [False] * 7 and not result.compiled
