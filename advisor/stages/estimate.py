"""The estimate stage: the run's expected time per stage, and with --max-minutes the cuts that make it fit."""

from __future__ import annotations

import json
import time

from advisor.cache import fingerprint
from advisor.files import write_json
from advisor.corpus.evalset import EvalSet
from advisor.corpus.profile import CorpusProfile
from advisor.measure.estimate import RunPlan, plan_run
from advisor.measure.whole_corpus import WholeCorpusFit
from advisor.stages.context import RunContext
from advisor.stages.models import LoadedModels


def estimate_stage(ctx: RunContext, evalset: EvalSet, profile: CorpusProfile, whole: WholeCorpusFit,
                   models: LoadedModels, reference: list[str], started: float) -> RunPlan:
    """From the inputs' sizes and a probe of the models' speed here; the cuts are said as warnings, and a
    resumed run makes the cuts its first try made (its finished stages answered those questions)."""
    cfg = ctx.config
    ctx.progress("estimate", 0, 1, "probing the models' speed on this machine")
    saved, key = ctx.run_dir / "plan.json", fingerprint(cfg.to_dict(), evalset.fingerprint())
    earlier = json.loads(saved.read_text(encoding="utf-8")) if saved.is_file() else {}
    plan = plan_run(cfg, evalset, models, profile, whole, reference,
                    already=time.perf_counter() - started,
                    cuts=earlier.get("cuts") if earlier.get("key") == key else None)
    write_json(saved, {"key": key, "cuts": plan.cuts})
    for note in plan.estimate.notes:
        ctx.warn(note)
    ctx.progress("estimate", 1, 1, plan.estimate.text(), result=plan.estimate)
    write_json(ctx.run_dir / "eval_set.json", plan.evalset.to_dict())
    return plan
