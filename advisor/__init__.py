"""The fine-tuning vs RAG advisor: measure both on your own documents, then choose.

    import advisor
    report = advisor.advise("docs/", goal="knowledge", qa="qa.jsonl")
    print(report.recommendation.choice, report.recommendation.reason_texts)

Importing this package is cheap: torch, transformers and chromadb load only when a run needs them.
"""

from advisor.api import Advisor, ProgressEvent, advise, estimate_run
from advisor.config import AdvisorConfig, Constraints
from advisor.errors import AdvisorError, RunCancelled
from advisor.export import export_run
from advisor.serve import ask
from advisor.tune import tune_from_feedback
from advisor.verdict.ratings import add_feedback
from advisor.verdict.report import Recommendation, Report
from advisor.whatif import WhatIf, what_if

__all__ = ["Advisor", "AdvisorConfig", "AdvisorError", "Constraints", "ProgressEvent", "Recommendation", "Report",
           "RunCancelled", "WhatIf", "add_feedback", "advise", "ask", "estimate_run", "export_run", "tune_from_feedback",
           "what_if"]
__version__ = "0.1.0"
