"""The whole corpus's LoRA training from a plan's job (`advisor plan`), on the processes `accelerate launch` or
`torchrun` starts: each process makes the examples from the corpus, then finetune.distributed trains them."""

from __future__ import annotations


def whole_corpus_examples(job: dict, tokenizer) -> list[dict]:
    """Every document in text blocks, then every pair of the job's QA file (nothing is held out at full scale),
    as the run's fine-tune made them."""
    from advisor.corpus.loading import load_corpus
    from advisor.corpus.qa import load_qa
    from advisor.stages.train import training_prompts
    from finetune.data import training_examples
    from rag.prompting import encode_prompt

    documents = load_corpus(job["corpus"]).documents
    pairs = load_qa(job["qa"]) if job.get("qa") else []
    examples, _ = training_examples(tokenizer, [d.text for d in documents], training_prompts(tokenizer, pairs),
                                    job["max_seq_len"], encode_prompt)
    return examples


def main(argv: list[str] | None = None) -> None:
    from finetune.distributed import main as train_main

    train_main(argv, examples_for=whole_corpus_examples,
               prog="accelerate launch --config_file accelerate.yaml -m advisor.full_training",
               description="LoRA training on a whole corpus, as `advisor plan` wrote it (PLAN_DIR/job.json).")


if __name__ == "__main__":
    main()
