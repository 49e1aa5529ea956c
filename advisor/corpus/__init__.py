"""The corpus stages: loading documents, profiling them, and building the held-out eval set."""
