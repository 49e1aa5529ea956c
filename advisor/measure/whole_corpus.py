"""Whether the whole training corpus fits one prompt, with room for the question and the answer."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# A token rarely spans more characters than this: a corpus longer than the window times it cannot fit, and is
# not tokenized to find out.
MOST_CHARACTERS_PER_TOKEN = 12


@dataclass(frozen=True)
class WholeCorpusFit:
    """The whole-corpus arm's question: `fits` when asked for (`asked`, --full-context) and every training document
    fits one prompt; `passages` are then the documents each prompt opens with. `skipped` says why a corpus that
    fits was left out all the same (--max-minutes)."""

    fits: bool
    prompt_tokens: int  # the longest question's prompt with every document in it (a floor when at_least)
    context_window: int
    asked: bool
    at_least: bool = False  # too long to be worth tokenizing: prompt_tokens is characters / 12
    passages: list[str] | None = None
    skipped: str = ""

    def why_not(self) -> str:
        """Why the arm is not measured, in words ("" when it is)."""
        if self.fits:
            return ""
        if not self.asked:
            return "switched off (--no-full-context)"
        return self.skipped.removeprefix("skipped: ") or (
            f"the whole training corpus makes a prompt of {'at least ' if self.at_least else ''}"
            f"{self.prompt_tokens:,} tokens, more than the base model's context window of "
            f"{self.context_window:,} (with room for the answer)")

    def skip(self, reason: str) -> "WholeCorpusFit":
        return dataclasses.replace(self, fits=False, passages=None, skipped=reason)

    def to_dict(self) -> dict:
        """What the report keeps (the passages are the corpus itself: not copied)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "passages" and (k != "skipped" or v)}

    @classmethod
    def from_dict(cls, data: dict) -> "WholeCorpusFit":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def whole_corpus_fit(texts: list[str], question: str, tokenizer, window: int, max_new_tokens: int,
                     asked: bool) -> WholeCorpusFit:
    """Whether `texts` in one prompt with the longest `question` leave `max_new_tokens` of the `window`."""
    from rag.prompting import build_prompt, encode_prompt

    characters = sum(len(t) for t in texts)
    at_least = characters > MOST_CHARACTERS_PER_TOKEN * window
    tokens = characters // MOST_CHARACTERS_PER_TOKEN if at_least else \
        len(encode_prompt(tokenizer, build_prompt(tokenizer, question, texts)))
    fits = asked and bool(texts) and tokens + max_new_tokens <= window
    return WholeCorpusFit(fits, tokens, window, asked, at_least, texts if fits else None)
