"""The causal language-model loss from the logits of labelled positions only: the same value, less to compute."""

from __future__ import annotations

import inspect

from finetune.data import IGNORE_INDEX


def accepts_positions(model) -> bool:
    """Whether `model` (peft-wrapped or not) takes `logits_to_keep`, which can pick the positions to project onto the
    vocabulary (transformers' causal LMs: Llama, Mistral, Qwen and most others)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def labelled_positions_loss(model, inputs: dict, num_items_in_batch=None):
    """The next-token cross-entropy of `inputs` (input_ids, attention_mask, labels with IGNORE_INDEX where no loss
    is wanted), equal to the model's own `outputs.loss`, but with the output layer run only at the positions whose
    next token is a label. A question/answer example's prompt tokens and the padding of every example need no
    logits: over a 49,152-token vocabulary that projection and its log-softmax are a large share of a small model's
    step. Sums over the labels and divides by `num_items_in_batch` when given (the Trainer's count over a whole
    accumulated batch), else by this batch's labels, as transformers' loss does."""
    import torch.nn.functional as F

    labels = inputs["labels"]
    shifted = F.pad(labels, (0, 1), value=IGNORE_INDEX)[:, 1:]
    keep = shifted != IGNORE_INDEX
    outputs = model(**{k: v for k, v in inputs.items() if k != "labels"}, logits_to_keep=keep)
    logits = outputs.logits
    if logits.dim() == 3:  # a model that took the mask but projected every position
        logits = logits[keep]
    total = F.cross_entropy(logits.float(), shifted[keep], reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else keep.sum()
    return total / max(count, 1), outputs  # a batch with no label at all gives 0, not 0/0
