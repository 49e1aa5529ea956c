"""Packing examples in rows: first-fit decreasing, each example at its own positions, padding counted out."""

import torch

from finetune.data import IGNORE_INDEX
from finetune.packing import PackedCollator, packed_rows, real_tokens


def test_rows_take_the_longest_first_each_into_the_first_row_with_room():
    assert packed_rows([3, 8, 5, 2, 4], 8) == [[1], [2, 0], [4, 3]]
    assert packed_rows([12, 2], 8) == [[0], [1]]  # too long for a row: a row of its own


def test_a_packed_batch_restarts_positions_drops_each_first_label_and_pads_apart():
    examples = [{"input_ids": [1, 2, 3], "labels": [1, 2, 3]}, {"input_ids": [4, 5, 6, 7, 8], "labels": [-100, -100, 6, 7, 8]},
                {"input_ids": [9, 10], "labels": [9, 10]}]
    batch = PackedCollator(pad_token_id=0, row_tokens=5)(examples)
    assert batch["input_ids"].tolist() == [[4, 5, 6, 7, 8], [1, 2, 3, 9, 10]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4], [0, 1, 2, 0, 1]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, -100, 6, 7, 8], [IGNORE_INDEX, 2, 3, IGNORE_INDEX, 10]]
    assert batch["use_cache"] is False and "attention_mask" not in batch  # else transformers would not see the packing
    padded = PackedCollator(pad_token_id=0, row_tokens=4)(examples[:2])  # rows of 5 and 3 tokens, padded to 5
    assert padded["input_ids"].tolist() == [[4, 5, 6, 7, 8], [1, 2, 3, 0, 0]]
    assert padded["position_ids"].tolist() == [[0, 1, 2, 3, 4], [0, 1, 2, 0, 0]]
    assert padded["labels"][1, 3:].eq(IGNORE_INDEX).all() and int(real_tokens(padded)) == 8


def test_rows_as_long_as_the_batchs_longest_where_they_compute_fewer_tokens():
    examples = [{"input_ids": list(range(1, n + 1)), "labels": list(range(1, n + 1))} for n in (5, 5, 4)]
    # Rows of 10 would hold 5 + 5 and 4 (2 x 10 tokens to compute); rows of 5 hold one each (3 x 5).
    assert PackedCollator(pad_token_id=0, row_tokens=10)(examples)["input_ids"].shape == (3, 5)
    short = [{"input_ids": list(range(1, n + 1)), "labels": list(range(1, n + 1))} for n in (4, 3, 2)]
    # Rows of 9 hold all three (9 tokens); rows of 4 one each, the 2 too, as the 3 leaves room for 1 (3 x 4).
    assert PackedCollator(pad_token_id=0, row_tokens=9)(short)["input_ids"].shape == (1, 9)


def test_real_tokens_of_padded_packed_and_plain_batches():
    assert int(real_tokens({"input_ids": torch.ones(2, 4), "attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])})) == 7
    packed = {"input_ids": torch.ones(2, 5), "position_ids": torch.tensor([[0, 1, 0, 1, 2], [0, 1, 2, 0, 0]])}
    assert int(real_tokens(packed)) == 8
    assert int(real_tokens({"input_ids": torch.ones(3, 4)})) == 12
