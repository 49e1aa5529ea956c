"""Packed batches: a batch's examples laid end to end in rows, each attending to itself alone, so that a training step
computes almost no padding."""

from __future__ import annotations

from finetune.data import IGNORE_INDEX


def packed_rows(lengths: list[int], row_tokens: int) -> list[list[int]]:
    """The examples (by index) of each row: longest first, each into the first row with room for it (first-fit
    decreasing); an example longer than `row_tokens` gets a row of its own."""
    rows: list[list[int]] = []
    room: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        row = next((r for r, free in enumerate(room) if free >= lengths[index]), None)
        if row is None:
            rows.append([])
            room.append(row_tokens)
            row = len(rows) - 1
        rows[row].append(index)
        room[row] -= lengths[index]
    return rows


class PackedCollator:
    """Collates examples ({"input_ids", "labels"}) into rows of at most `row_tokens` tokens, or of the batch's longest
    example where that computes fewer (packed_rows).

    Each example keeps its own positions (position_ids counting from 0), which is how transformers' attention tells
    packed examples apart (masking_utils.find_packed_sequence_indices, used when no attention mask is given): no
    example attends to another, and the loss is the one the same examples give padded. Each example's first label is
    dropped: packed, the previous example's last position would be trained to predict it; padded, no position does.
    Rows shorter than the batch's longest are filled with `pad_token_id` at position 0, each padding token a sequence
    of one without a label. A batch carries no attention mask and asks for no cache: either would switch the
    packed-sequence masks off (transformers 5.25).
    """

    def __init__(self, pad_token_id: int, row_tokens: int):
        self.pad_token_id = pad_token_id
        self.row_tokens = row_tokens

    def __call__(self, features: list[dict]) -> dict:
        import torch

        lengths = [len(f["input_ids"]) for f in features]

        def width(rows):
            return max(sum(lengths[i] for i in row) for row in rows)

        # Rows as long as the longest example anywhere, or as this batch's longest (a batch of similar lengths, as
        # grouping by length makes them, can fill those better): whichever computes fewer tokens.
        rows = min((packed_rows(lengths, capacity) for capacity in (self.row_tokens, max(lengths))),
                   key=lambda rows: len(rows) * width(rows))
        width = width(rows)
        ids, labels, positions = [], [], []
        for row in rows:
            row_ids, row_labels, row_positions = [], [], []
            for index in row:
                example = features[index]
                row_ids += example["input_ids"]
                row_labels += [IGNORE_INDEX] + list(example["labels"][1:])
                row_positions += range(len(example["input_ids"]))
            padding = width - len(row_ids)
            ids.append(row_ids + [self.pad_token_id] * padding)
            labels.append(row_labels + [IGNORE_INDEX] * padding)
            positions.append(row_positions + [0] * padding)
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels),
                "position_ids": torch.tensor(positions), "use_cache": False}


def real_tokens(batch: dict):
    """The tokens of `batch` that are not padding, as a tensor (no wait for the device): the attention mask's sum; in a
    packed batch, every token but the trailing run of position-0 tokens each row's padding makes (PackedCollator;
    examples have at least 2 tokens); else all of them."""
    import torch

    mask = batch.get("attention_mask")
    if mask is not None and mask.dim() == 2:
        return mask.sum()
    positions = batch.get("position_ids")
    ids = batch["input_ids"]
    if positions is None:
        return torch.tensor(ids.numel(), device=ids.device)
    at_zero = positions == 0
    # a row's padding: the position-0 tokens from which every later one is at position 0 too
    padding = at_zero.flip(-1).int().cumprod(-1).sum()
    return positions.numel() - padding
