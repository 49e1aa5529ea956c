"""The verdict stages: the decision, the report model, and its renderers."""
