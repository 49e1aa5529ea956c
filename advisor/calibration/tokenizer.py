"""A word-level tokenizer over the calibration world's vocabulary, wrapped for transformers."""

from __future__ import annotations

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from advisor.calibration.world import World

UNK, PAD, BOS, EOS = "<unk>", "<pad>", "<s>", "</s>"
SPECIAL_TOKENS = [UNK, PAD, BOS, EOS]


def build_tokenizer(world: World) -> PreTrainedTokenizerFast:
    """Trains a word-level vocabulary on every word of the world; the tokenizer prepends <s> to each text."""
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    # Splits words from punctuation, so "Quorveth." and "from?" give the value and the mark separately.
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(vocab_size=100_000, min_frequency=1, special_tokens=SPECIAL_TOKENS)
    tokenizer.train_from_iterator(world.vocabulary_texts(), trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tokenizer.token_to_id(BOS))])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, unk_token=UNK, pad_token=PAD,
        # Decoding joins words with spaces; leave " ," and " ." alone so outputs are predictable.
        clean_up_tokenization_spaces=False)
