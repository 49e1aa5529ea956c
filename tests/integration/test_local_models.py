"""The tiny local model through the same resolution and loading as a real one: its folder, its choice described,
its random weights told apart from trained ones."""

from advisor.models import resolve_model


def test_local_model_folder_resolves(tiny_model_dir):
    resolved = resolve_model(str(tiny_model_dir))
    assert resolved.origin == "local folder" and resolved.note == ""


def test_tiny_model_is_flagged_untrained(tiny_model_dir, tiny_corpus):
    from advisor.corpus.loading import load_corpus
    from advisor.models import check_trained, load_generator

    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    texts = [d.text for d in load_corpus(tiny_corpus[0]).documents]
    check = check_trained(model, tokenizer, texts)
    assert check.trained is False and check.uniform_perplexity == len(tokenizer)
    assert check.perplexity > 0.5 * len(tokenizer)


def test_a_model_choice_is_described_without_loading_anything(tmp_path, tiny_model_dir):
    from advisor.config import DEFAULT_BASE_MODEL
    from advisor.models import describe_model_choice

    assert describe_model_choice(str(tiny_model_dir)) == (True, "a local model folder")
    assert describe_model_choice(str(tmp_path)) == (False, "this folder has no .safetensors weights")
    assert describe_model_choice(str(tmp_path / "nope.gguf"))[0] is False
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    assert describe_model_choice(str(tmp_path / "m.gguf"))[0] is True
    ok, text = describe_model_choice(DEFAULT_BASE_MODEL)  # conftest switches the hub off
    assert ok and "HF_HUB_OFFLINE" in text
    assert describe_model_choice("not a model id!")[0] is False
