"""LoRA fine-tuning: training data from the corpus, training within a time budget, adapter loading."""
