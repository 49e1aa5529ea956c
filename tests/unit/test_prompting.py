"""Prompt layout: a system turn with the instruction, passages before the question, and templates without a system turn."""

from jinja2.exceptions import TemplateError

from rag.prompting import SYSTEM, SYSTEM_WITH_PASSAGES, build_prompt
from rag.splitting import chunk_size_for


class Template:
    """A chat tokenizer's template, rendered as role: content lines."""

    chat_template = "stand-in"

    def __init__(self, system_turns: bool = True):
        self.system_turns = system_turns

    def apply_chat_template(self, turns, tokenize, add_generation_prompt):
        if not self.system_turns and turns[0]["role"] == "system":
            raise TemplateError("System role not supported")
        return "".join(f"{t['role']}: {t['content']}\n" for t in turns) + "assistant:"


def test_passages_come_before_the_question_with_the_instruction_as_system_turn():
    prompt = build_prompt(Template(), "Which berth?", ["Berth 5 is used at night.", "  "])
    assert prompt.startswith(f"system: {SYSTEM_WITH_PASSAGES}\nuser: Passages:\nBerth 5 is used at night.")
    assert prompt.index("Passages:") < prompt.index("Question: Which berth?")
    assert build_prompt(Template(), "Which berth?") == f"system: {SYSTEM}\nuser: Question: Which berth?\nassistant:"


def test_a_template_without_system_turns_gets_the_instruction_in_the_user_turn():
    prompt = build_prompt(Template(system_turns=False), "Which berth?", ["Berth 5."])
    assert prompt.startswith(f"user: {SYSTEM_WITH_PASSAGES}\n\nPassages:\nBerth 5.")


def test_the_default_chunk_is_128_tokens_or_what_the_embedder_reads():
    class Embedder:
        max_seq_length = 256

    assert chunk_size_for(Embedder(), None) == 128
    Embedder.max_seq_length = 64
    assert chunk_size_for(Embedder(), None) == 62  # room for its two special tokens
    assert chunk_size_for(Embedder(), 200) == 200  # what the user asked for


def test_a_training_pair_with_its_passage_is_trained_as_retrieval_gives_it():
    from advisor.stages.train import training_prompts
    from advisor.corpus.qa import QAPair

    class Plain:  # no chat template: the plain Context/Question/Answer form
        chat_template = None

    closed, with_passage = training_prompts(Plain(), [QAPair("Who?", "Mara"), QAPair("Who?", "Mara", passage="Mara kept it.")])
    assert closed == ("Question: Who?\nAnswer:", "Mara")
    assert with_passage == ("Context: Mara kept it.\nQuestion: Who?\nAnswer:", "Mara")
