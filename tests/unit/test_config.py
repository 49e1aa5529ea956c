"""AdvisorConfig: checked on creation, round-tripped through JSON, help text for every field."""

import dataclasses
import json

import pytest

from advisor import AdvisorConfig, Constraints
from advisor.errors import ConfigError


@pytest.mark.parametrize("bad, message", [
    ({"goal": "speed"}, "goal must be one of"),
    ({"device": "tpu"}, "device must be one of"),
    ({"eval_fraction": 1.0}, "eval_fraction"),
    ({"budget_minutes": 0}, "budget_minutes"),
    ({"top_k": 0}, "top_k must be at least 1"),
    ({"chunk_size": 64, "chunk_overlap": 64}, "chunk_overlap"),
    ({"format_regex": "(unclosed"}, "not a valid regular expression"),
    ({"processes": 0}, "processes must be at least 1"),
    ({"processes": 3}, "batch_size must be a multiple of processes"),
])
def test_bad_values_are_named(bad, message):
    with pytest.raises(ConfigError, match=message):
        AdvisorConfig(corpus="docs", **bad)


def test_config_needs_a_corpus():
    with pytest.raises(ConfigError, match="corpus"):
        AdvisorConfig()


def test_round_trip_through_json():
    config = AdvisorConfig(corpus="docs", goal="style", seed=7, chroma_url="http://localhost:8000")
    assert AdvisorConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ConfigError, match="unknown setting"):
        AdvisorConfig.from_dict({"corpus": "docs", "colour": "blue"})


def test_every_field_has_help():
    assert all(f.metadata.get("help") for f in dataclasses.fields(AdvisorConfig))


@pytest.mark.parametrize("bad, message", [
    ({"data_changes": "hourly"}, "data_changes must be one of static, monthly, weekly, daily"),
    ({"latency_limit_ms": -5}, "latency_limit_ms must be a non-negative number"),
    ({"queries_per_month": "lots"}, "queries_per_month must be a non-negative number"),
    ({"must_cite_sources": "yes"}, "must_cite_sources must be true or false"),
    ({"colour": "blue"}, "unknown constraint"),
])
def test_bad_constraints_are_named(bad, message):
    with pytest.raises(ConfigError, match=message):
        AdvisorConfig(corpus="docs", constraints=bad)


TOML = """
goal = "knowledge"
budget_minutes = 2.5
top_k = 4

[constraints]
data_changes = "weekly"
must_cite_sources = true
queries_per_month = 50000
monthly_budget_usd = 20.0
"""


def test_toml_file_then_options_round_trip(tmp_path):
    path = tmp_path / "advisor.toml"
    path.write_text(TOML, encoding="utf-8")
    config = AdvisorConfig.from_toml(path, corpus="docs", top_k=2, constraints={"latency_limit_ms": 800})
    assert config.top_k == 2 and config.budget_minutes == 2.5  # the option wins; the file fills the rest
    assert config.constraints == Constraints(data_changes="weekly", must_cite_sources=True, latency_limit_ms=800,
                                             monthly_budget_usd=20.0, queries_per_month=50000)
    assert AdvisorConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert json.loads(json.dumps(config.to_dict()))["constraints"]["data_changes"] == "weekly"


def test_a_bad_toml_file_is_one_clear_error(tmp_path):
    path = tmp_path / "advisor.toml"
    path.write_text("goal = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        AdvisorConfig.from_toml(path, corpus="docs")
    with pytest.raises(ConfigError, match="cannot be read"):
        AdvisorConfig.from_toml(tmp_path / "missing.toml", corpus="docs")
    path.write_text("[constraints]\ndata_changes = \"often\"\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="data_changes"):
        AdvisorConfig.from_toml(path, corpus="docs")


def test_a_flag_that_could_not_act_is_refused_with_its_reason():
    from advisor.config import AdvisorConfig
    from advisor.errors import ConfigError

    with pytest.raises(ConfigError, match="with a QA file its questions are used"):
        AdvisorConfig(corpus="docs", qa="qa.jsonl", model_written_questions=True)
    with pytest.raises(ConfigError, match="goal 'style' asks no questions"):
        AdvisorConfig(corpus="docs", goal="style", model_written_questions=True)
    assert AdvisorConfig(corpus="docs", goal="both", model_written_questions=True).model_written_questions
