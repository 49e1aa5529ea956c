"""Converts a GGUF file once into a safetensors model folder in the user's cache, never using half a conversion."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from advisor.errors import ModelNotFoundError

MARKER = "conversion.json"  # written last, inside the folder before it gets its final name


@dataclass(frozen=True)
class ConvertedModel:
    folder: Path
    quantization: str  # as the GGUF file states it, e.g. "Q4_1"
    converted_now: bool  # False: an earlier conversion was reused


def user_cache_dir() -> Path:
    """ADVISOR_CACHE_DIR, else $XDG_CACHE_HOME/ft-rag-advisor, else ~/.cache/ft-rag-advisor."""
    if os.environ.get("ADVISOR_CACHE_DIR"):
        return Path(os.environ["ADVISOR_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "ft-rag-advisor"


KEY_SAMPLE = 2 ** 20  # bytes read from each end of the file for its key


def _file_key(path: Path) -> str:
    """Cheap identity of a (possibly multi-GB) file's content: its size and its first and last megabyte,
    so that the same file installed elsewhere (a new virtual environment, a fresh clone) is converted once."""
    size = path.stat().st_size
    digest = hashlib.sha256(json.dumps([size]).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(KEY_SAMPLE))
        handle.seek(max(0, size - KEY_SAMPLE))
        digest.update(handle.read(KEY_SAMPLE))
    return digest.hexdigest()[:12]


def _file_sizes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file() and p.name != MARKER}


def _complete(folder: Path) -> dict | None:
    """The marker of a finished conversion whose files are all there at their recorded sizes."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        files = marker["files"]
        if "model.safetensors" not in files or "config.json" not in files:
            return None
        return marker if all((folder / name).stat().st_size == size for name, size in files.items()) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def gguf_quantization(path: Path) -> str:
    """The file's weight type as GGUF names it ("Q4_1", "F16", ...), or "unknown"."""
    import gguf  # the GGUF reader; only needed for GGUF files

    try:
        reader = gguf.GGUFReader(str(path))
        field = reader.fields.get("general.file_type")
        if field is None:
            return "unknown"
        return gguf.LlamaFileType(int(field.contents())).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except (ValueError, OSError, KeyError):
        return "unknown"


def _convert_into(gguf_path: Path, out: Path) -> None:
    """Dequantizes `gguf_path` to float32 and saves model, tokenizer and chat template into `out`."""
    import torch  # heavy; only a conversion needs it
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    # transformers draws its own tqdm bar while dequantizing, whatever the verbosity settings; a
    # library must not print, and the interfaces show their own progress.
    with contextlib.redirect_stderr(io.StringIO()):
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # The loaded model keeps a GGUF quantization config and refuses save_pretrained: copy its
    # weights into a plain model built from the same configuration instead.
    settings = {k: v for k, v in loaded.config.to_dict().items() if k != "quantization_config"}
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**settings), dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), assign=True)
    model.tie_weights()
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def convert_gguf(gguf_path: str | Path, cache_dir: Path | None = None) -> ConvertedModel:
    """The safetensors folder for `gguf_path`, converting it on first use.

    The conversion is written to a temporary folder that gets its final name only once complete
    (marker last), so an interrupted or damaged conversion is never loaded: it is done again.
    """
    gguf_path = Path(gguf_path).expanduser()
    try:
        import gguf  # noqa: F401  transformers reads GGUF files through this package
    except ImportError:
        raise ModelNotFoundError(f"{gguf_path.name} is a GGUF file, and reading one needs the gguf package",
                                 hint="pip install gguf") from None
    root = (cache_dir or user_cache_dir()) / "gguf"
    target = root / f"{gguf_path.stem}-{_file_key(gguf_path)}"
    marker = _complete(target)
    if marker is not None:
        return ConvertedModel(target, marker.get("quantization", "unknown"), False)
    if target.exists():  # a damaged or partial folder left by something else: never load it
        shutil.rmtree(target, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=root, prefix=f".{target.name}.", suffix=".partial"))
    quantization = gguf_quantization(gguf_path)
    try:
        try:
            _convert_into(gguf_path, scratch)
        except (ValueError, KeyError, OSError, RuntimeError) as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelNotFoundError(f"{gguf_path.name} could not be read as a causal language model "
                                     f"({text[:160]})",
                                     hint="transformers reads GGUF files of llama, mistral, qwen2, qwen3, "
                                          "gemma, phi3 and a few other architectures; pass another "
                                          "--base-model") from None
        (scratch / MARKER).write_text(json.dumps({
            "source": str(gguf_path.resolve()), "quantization": quantization,
            "dtype": "float32", "files": _file_sizes(scratch)}, indent=2) + "\n", encoding="utf-8")
        try:
            scratch.rename(target)
        except OSError:  # another process finished the same conversion first: use theirs
            if _complete(target) is None:
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ConvertedModel(target, quantization, True)
