"""A finished run's report made as the report stage makes one, with no model: for what-if tests that need a report
whose every figure is known (the verdict a fine-tune's, RAG a close second)."""

from advisor.config import AdvisorConfig, Constraints
from advisor.measure.comparisons import compare_arms
from advisor.measure.cost import ComputeCost, PriceTable, report_costs
from advisor.measure.evidence import ArmReport, Evaluation, ModelCheck, Training
from advisor.verdict.decide import ANSWER_LIKELIHOOD, primary_metric, recommend
from advisor.verdict.report import ModelsUsed, Report

N = 40
PRICE = 0.10  # USD an hour, as the run was priced
# Per item: the fine-tune right on 34 of 40, RAG on 24, the base model on none; each arm's answer times (s),
# one-off seconds (indexing, training).
SCORES = {"base": [0.0] * N, "rag": [1.0] * 24 + [0.0] * 16, "finetune": [1.0] * 34 + [0.0] * 6}
LATENCIES = {"base": [0.1] * N, "rag": [0.2] * 38 + [0.25] * 2, "finetune": [0.3] * 38 + [0.4] * 2}
ONE_OFF_SECONDS = {"base": 0.0, "rag": 2.0, "finetune": 120.0}
TRAINING = Training(steps=50, steps_wanted=50, seconds=120.0, tokens=20_000, passes=3.0)


def finished_run(**constraints) -> Report:
    """A report made as the report stage makes one (advisor/stages/report.py): arms summed up from per-item scores,
    answer times and one-off seconds at the run's price, then compared, decided and costed."""
    config = AdvisorConfig(corpus="docs", qa="qa.jsonl", constraints=Constraints(**constraints))
    metric = primary_metric(config.goal, True, None)
    arms = {}
    for name, scores in SCORES.items():
        times = LATENCIES[name]
        arms[name] = ArmReport(
            quality={metric.name: {"value": sum(scores) / N, "n": N}},
            latency_ms={"p50": 1000 * sorted(times)[N // 2], "p95": 1000 * max(times), "n": N},
            cost_usd=ComputeCost(ONE_OFF_SECONDS[name], sum(times) / N).priced(PRICE),
            details={"scores": {metric.name: scores}, "one_off_seconds": ONE_OFF_SECONDS[name],
                     **({"training": TRAINING.to_dict()} if name == "finetune" else {})})
    check = ModelCheck(perplexity=20.0, uniform_perplexity=49152.0)

    def compared(on):
        return compare_arms({name: arm.details["scores"].get(on.name, []) for name, arm in arms.items()}, on,
                            config.seed)

    recommendation = recommend(config.goal, metric, compared(metric), compared(ANSWER_LIKELIHOOD), arms, check, N,
                               config.constraints)
    costs = report_costs(config, arms, tuned_training=TRAINING, corpus_tokens=100_000, base_parameters=135_000_000,
                         usd_per_hour=PRICE, prices=PriceTable.load(), warn=print)
    return Report(config=config.to_dict(), corpus={}, arms=arms, recommendation=recommendation,
                  models=ModelsUsed(base_check=check), costs=costs, run_dir="runs/example",
                  evaluation=Evaluation(kind="qa", n=N, primary_metric=metric.name,
                                        pricing={"usd_per_hour": PRICE, "device": "cpu", "source": "a test"}))
