"""AdvisorConfig: checked on creation, round-tripped through JSON, help text for every field."""

import dataclasses
import json

import pytest

from advisor import AdvisorConfig
from advisor.errors import ConfigError


@pytest.mark.parametrize("bad, message", [
    ({"goal": "speed"}, "goal must be one of"),
    ({"device": "tpu"}, "device must be one of"),
    ({"eval_fraction": 1.0}, "eval_fraction"),
    ({"budget_minutes": 0}, "budget_minutes"),
    ({"top_k": 0}, "top_k must be at least 1"),
    ({"chunk_size": 64, "chunk_overlap": 64}, "chunk_overlap"),
    ({"format_regex": "(unclosed"}, "not a valid regular expression"),
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
