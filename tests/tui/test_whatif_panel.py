"""The results screen's what-if, driven as a user drives it: c opens the constraints and the price beside the verdict,
each edit decides again at once, Esc shows the run's own verdict again."""

import dataclasses
import json

from finished_run import LATENCIES, N, finished_run  # tests/finished_run.py

from advisor.tui.app import make_app
from advisor.tui.results_screen import ResultsScreen
from advisor.tui.whatif_panel import WhatIfPanel
from advisor.verdict.render import write_report
from advisor.verdict.wording import format_number

SIZE = (120, 40)


def shown(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


async def test_editing_a_constraint_or_the_price_changes_the_shown_verdict_and_costs_at_once(tmp_path):
    run = tmp_path / "run"
    report = dataclasses.replace(finished_run(), run_dir=str(run))
    write_report(report, run)
    own = (run / "report.json").read_bytes()
    app = make_app({}, runs_root=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        app.show_results(report)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ResultsScreen) and "finetune (confidence high)" in shown(screen, "#headline")
        await pilot.press("c")
        panel = screen.query_one(WhatIfPanel)
        assert panel.display and panel.query_one("#whatif-latency_limit_ms").value == ""
        panel.query_one("#whatif-monthly_budget_usd").focus()  # visited and left blank: not stated, not wrong
        await pilot.pause()
        panel.query_one("#whatif-latency_limit_ms").focus()
        await pilot.pause()
        assert not panel.query_one("#whatif-monthly_budget_usd").has_class("-invalid")
        await pilot.press("3", "0", "0")  # below the fine-tune's p95 (400 ms), above RAG's (250 ms)
        await pilot.pause()
        assert "What if: " in shown(screen, "#headline") and "rag (confidence medium)" in shown(screen, "#headline")
        assert "measured best but answers in 400.0 ms (p95)" in shown(screen, "#reasons")
        said = shown(panel, "#whatif-status")
        assert "latency limit ms 300 (the run's: not stated)" in said and "was finetune (high)" in said

        panel.query_one("#whatif-price_per_hour").value = "1"  # ten times the run's price
        await pilot.pause()
        per_1k = screen.query_one("#arms").get_row("rag")[5]
        assert per_1k == format_number(sum(LATENCIES["rag"]) / N * 1000 * 1.0 / 3600, 5)
        assert "rag: per 1,000 questions: $0.00563 → $0.05625" in shown(panel, "#whatif-status")

        panel.query_one("#whatif-price_per_hour").value = "-"  # half typed: said in the panel, nothing breaks
        await pilot.pause()
        assert "price per hour must be a number" in shown(panel, "#whatif-status")

        panel.query_one("#whatif-price_per_hour").value = "1"
        await pilot.pause()
        panel.query_one("#whatif-write").press()
        await pilot.pause()
        written = json.loads((run / "whatif" / "report.json").read_text(encoding="utf-8"))
        assert written["recommendation"]["choice"] == "rag" and written["evaluation"]["pricing"]["usd_per_hour"] == 1

        await pilot.press("escape")
        await pilot.pause()
        assert not screen.query(WhatIfPanel)
        headline = shown(screen, "#headline")
        assert "finetune (confidence high)" in headline and "What if" not in headline
        own_cost = format_number(report.arms["rag"].cost_usd["per_1k_queries"], 5)
        assert screen.query_one("#arms").get_row("rag")[5] == own_cost
    assert (run / "report.json").read_bytes() == own
