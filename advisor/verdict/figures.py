"""The report's sections that a reason can point at: the names every view of a report uses for them."""

# Where in the report the figure behind a reason is: anchor -> the section's title in report.md and report.html.
FIGURES = {"quality": "Quality", "comparisons": "Improvements", "latency": "Latency and cost",
           "costs": "Cost against query volume", "corpus": "Corpus", "evaluation": "Evaluation set",
           "models": "Models and hardware", "feedback": "People's ratings",
           "constraints": "Your constraints"}
