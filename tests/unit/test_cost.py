"""Costs against worked examples: prices as data, monthly totals, break-even, freshness, projections."""

import pytest

from advisor.errors import ConfigError
from advisor.measure.cost import PriceTable, break_even_queries, freshness_cost, monthly_cost
from advisor.measure.projection import EXAMPLE_7B, parameter_count, project


def test_the_shipped_price_table_is_dated_and_overridable(tmp_path):
    table = PriceTable.load()
    assert table.as_of == "2026-11" and table.price("cpu") == 0.10 and table.price("tpu") == 0.10
    assert table.memory_gib["H100"] == 80
    own = tmp_path / "prices.toml"
    own.write_text('as_of = "2027-01"\n[per_hour]\ncpu = 0.05\n', encoding="utf-8")
    assert PriceTable.load(own).price("cuda") == 0.05
    own.write_text("[per_hour]\ngpu = 'cheap'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot be used"):
        PriceTable.load(own)


def test_monthly_cost_break_even_and_freshness():
    # 0.04 USD per 1,000 answers at 50,000 a month: 2 USD.
    assert monthly_cost(0.04, 50_000) == pytest.approx(2.0)
    # The fine-tune costs 0.50 USD more once and saves 0.01 USD per 1,000 answers: repaid after 50,000.
    rag = {"one_off": 0.01, "per_1k_queries": 0.05}
    tuned = {"one_off": 0.51, "per_1k_queries": 0.04}
    assert break_even_queries(tuned, rag) == pytest.approx(50_000)
    assert break_even_queries({"one_off": 0.51, "per_1k_queries": 0.06}, rag) is None  # never repaid
    # 180 s of training redone weekly (52/12 times a month) at 3.60 USD/h: 0.78 USD a month.
    assert freshness_cost(180, "weekly", 3.6) == pytest.approx(180 * 52 / 12 / 1000)
    assert freshness_cost(180, "static", 3.6) == 0


def test_parameter_count_matches_known_models():
    assert parameter_count(EXAMPLE_7B) == 6_738_415_616  # Llama 2 7B
    smollm2_135m = {"hidden_size": 576, "num_hidden_layers": 30, "intermediate_size": 1536,
                    "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152,
                    "tie_word_embeddings": True}
    assert parameter_count(smollm2_135m) == 134_515_008


def test_projection_worked_example():
    # 100 s for 20,000 real tokens with a 100M model: 5 s per 1,000 tokens.
    out = project({"seconds": 100.0, "tokens": 20_000, "parameters": 100_000_000}, corpus_tokens=50_000, epochs=2,
                  larger={"name": "big", **EXAMPLE_7B}, memory_gib={"L4": 24, "H100": 80}, usd_per_hour=3.6)
    full = out["full_corpus"]
    assert full["seconds"] == pytest.approx(500.0) and full["usd"] == pytest.approx(0.5)
    large = out["larger_model"]
    scale = 6_738_415_616 / 100_000_000
    assert large["lora_seconds_here"] == pytest.approx(500.0 * scale)
    assert large["full_finetune_seconds_here"] == pytest.approx(500.0 * scale * 1.5)
    assert large["lora_memory_gib"] == pytest.approx(2 * 6_738_415_616 * 1.2 / 1024 ** 3)  # about 15 GiB
    assert large["lora_fits"] == ["L4", "H100"] and large["full_finetune_fits"] == []  # about 120 GiB
    assert "6·N·D" in large["formula"] and "5.00 s per 1,000 real tokens" in full["formula"]


def test_a_fine_tune_on_several_gpus_is_priced_for_every_card_and_cpu_processes_for_the_one_machine():
    from advisor.measure.evidence import Training
    from advisor.stages.train import card_seconds

    training = Training(seconds=100.0, processes=4)
    assert card_seconds(training, "cuda") == 400.0  # four cards for 100 s each
    assert card_seconds(training, "cpu") == 100.0  # four processes on one machine
    assert card_seconds(Training(seconds=100.0), "cuda") == 100.0
