"""The measuring stages: quality metrics, likelihoods, timing, hardware and cost."""
