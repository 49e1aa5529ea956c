"""Writes what runs a run's recommended option at full scale into its folder (the launch config, the commands, the
projected time, memory and cost), and checks that the training it writes starts, on two CPU processes."""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from advisor.errors import ConfigError, TrainingError
from advisor.export import exported_arm
from advisor.files import write_atomic, write_json
from advisor.measure.cost import PriceTable
from advisor.runs import finished_report
from advisor.measure.projection import GIB, HEADROOM, parameter_count, parameters_text, read_model_config
from advisor.verdict.report import Report

PLAN_DIR = "full-scale"  # in the run folder
MFU = 0.3  # the share of a card's spec-sheet throughput a LoRA fine-tune keeps: a common figure, not measured here
BUDGET_MARGIN = 3.0  # the written training stops at this many times its projected time, so a wrong projection
# cannot spend unseen
HNSW_LINKS = 32  # neighbour ids per vector in Chroma's HNSW graph (M = 16, twice at the bottom layer), 8 bytes each
CHROMA_PORT = 8000
PLAN_FILES = ("job.json", "accelerate.yaml", "train.sh", "index.sh", "PLAN.md", "plan.json")


@dataclass(frozen=True)
class Plan:
    folder: Path
    option: str  # "finetune", "rag" or "both"
    files: dict[str, str]  # what each is -> its name in `folder`
    commands: list[str]  # in the order to run them
    figures: dict  # projected time, memory, cost, index size, each with its formula
    notes: list[str] = field(default_factory=list)


def _cards(prices: PriceTable) -> list[str]:
    return sorted((card for card in prices.memory_gib if card in prices.tflops_bf16 and card in prices.per_hour),
                  key=lambda card: prices.per_hour[card])


def _model_config(report: Report, base_model: str | None) -> tuple[str, dict]:
    """The full-scale base model's name and config.json: --base-model, else the run's own."""
    name = base_model or report.config.get("base_model")
    config = None
    if not base_model and (report.models.base or {}).get("path"):  # the run's model, where it was found then
        config = read_model_config(report.models.base["path"])
    config = config or read_model_config(name)
    if config is None:
        raise ConfigError(f"the config of {name!r} could not be read (no network, or no such model)",
                          hint="pass a local model folder, or a hub id reachable from here, with --base-model")
    return name, config


def training_figures(report: Report, config: dict, *, gpus: int, gpu: str | None, prices: PriceTable) -> dict:
    """The LoRA fine-tune of the whole corpus on `gpus` cards: strategy, memory per card, time and cost."""
    try:
        parameters = parameter_count(config)
    except KeyError as exc:
        raise ConfigError(f"the model's config lacks {exc} (not a Llama-style decoder): its size cannot be "
                          "projected") from None
    cards = _cards(prices)
    if gpu is not None and gpu not in cards:
        raise ConfigError(f"unknown GPU {gpu!r}", hint=f"one of {', '.join(cards)} (or add it to your --prices "
                                                      "file: per_hour, memory_gib and tflops_bf16)")
    memory = 2 * parameters * HEADROOM / GIB  # bf16 weights; the adapter and its optimizer are small
    if gpu is None:  # the cheapest card the whole model fits on, else the largest
        gpu = next((card for card in cards if prices.memory_gib[card] >= memory),
                   max(cards, key=lambda card: prices.memory_gib[card]))
    card_memory = prices.memory_gib[gpu]
    strategy = "DDP" if memory <= card_memory else "FSDP"
    per_card = memory if strategy == "DDP" else memory / gpus
    if per_card > card_memory:
        needed = math.ceil(memory / card_memory)
        raise ConfigError(f"a LoRA fine-tune of this {parameters_text(parameters)}-parameter model needs about "
                          f"{memory:.0f} GiB: more than {gpus} {gpu} card(s) hold ({card_memory:g} GiB each)",
                          hint=f"pass --gpus {needed} or more, or a larger --gpu")
    epochs = float(report.config.get("epochs", 3.0))
    tokens = (report.corpus.tokens or 0) * epochs
    flops = 4 * parameters * tokens  # LoRA: forward 2·N·D and the activations' backward 2·N·D, no weight gradients
    seconds = flops / (gpus * prices.tflops_bf16[gpu] * 1e12 * MFU)
    return {
        "base_parameters": parameters, "gpu": gpu, "gpus": gpus, "strategy": strategy,
        "memory_gib_per_card": per_card, "card_memory_gib": card_memory, "tokens": tokens, "epochs": epochs,
        "seconds": seconds, "usd": seconds / 3600 * gpus * prices.per_hour[gpu], "usd_per_hour": prices.per_hour[gpu],
        "formula": f"4·N·D = 4 × {parameters:,} parameters × {tokens:,.0f} tokens ({report.corpus.tokens:,} corpus "
                   f"tokens × {epochs:g} passes) at {MFU:.0%} of {gpus} × {prices.tflops_bf16[gpu]:g} TFLOPS "
                   f"({gpu}, bf16); memory: 2 bytes per parameter × {HEADROOM}"
                   + (", whole on every card (DDP)" if strategy == "DDP" else f", sharded over {gpus} cards (FSDP)"),
        "prices": f"{prices.source}, as of {prices.as_of}"}


def accelerate_config(figures: dict) -> dict:
    """accelerate's launch config: DDP when the model fits one card, FSDP (sharded, the adapter saved whole)
    when it does not."""
    processes = figures["gpus"]
    config = {"compute_environment": "LOCAL_MACHINE", "machine_rank": 0, "num_machines": 1,
              "num_processes": processes, "mixed_precision": "bf16", "use_cpu": False, "gpu_ids": "all",
              "distributed_type": "MULTI_GPU" if processes > 1 else "NO"}
    if figures["strategy"] == "FSDP":
        config.update(distributed_type="FSDP", fsdp_config={
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP", "fsdp_sharding_strategy": "FULL_SHARD",
            "fsdp_state_dict_type": "FULL_STATE_DICT", "fsdp_use_orig_params": True,  # LoRA: frozen and trained mixed
            "fsdp_cpu_ram_efficient_loading": True, "fsdp_sync_module_states": True, "fsdp_offload_params": False})
    return config


def training_job(report: Report, base_model: str, figures: dict) -> dict:
    """finetune.distributed's job, with the corpus and QA file instead of examples (advisor.full_training makes
    them on each process): the run's LoRA settings, every document, every pair, nothing held out."""
    from advisor.config import AdvisorConfig

    settings = AdvisorConfig.from_dict(report.config).lora_settings()
    settings = dataclasses.replace(settings, max_steps=None, min_steps=0, precision="bf16", micro_batch_size=None,
                                   batch_size=settings.batch_size * figures["gpus"])  # each card takes the run's batch
    qa = report.config.get("qa")
    return {"model": base_model, "dtype": "bfloat16", "examples": None,
            "corpus": str(Path(report.config["corpus"]).resolve()), "qa": str(Path(qa).resolve()) if qa else None,
            "max_seq_len": report.config.get("max_seq_len", 256), "settings": dataclasses.asdict(settings),
            "device": "cuda", "budget_seconds": max(600.0, BUDGET_MARGIN * figures["seconds"]),
            "adapter_dir": "adapter", "checkpoint_dir": "checkpoints", "save_every": 50, "save_seconds": 600.0}


def index_figures(report: Report, arm: str) -> dict:
    """The whole corpus's index: its chunks counted now (split as the run split), its size and build time
    from the run's own indexing speed."""
    from transformers import AutoConfig, AutoTokenizer  # the embedding model's tokenizer splits; no weights load

    from advisor.corpus.loading import load_corpus
    from advisor.models import resolve_embedding_model
    from rag.splitting import split_documents

    details = report.arms[arm].details.get("index") or {}
    if not details.get("chunk_size"):
        raise ConfigError("this run's report does not record its index settings",
                          hint="run the advisor again on the run folder (it reuses everything), then plan")
    embedding = resolve_embedding_model((report.models.embedding or {}).get("name")
                                        or report.config.get("embedding_model"))
    tokenizer = AutoTokenizer.from_pretrained(embedding.path)
    chunks = split_documents(load_corpus(report.config["corpus"]).documents, tokenizer, details["chunk_size"],
                             details["overlap"])
    dimension = getattr(AutoConfig.from_pretrained(embedding.path), "hidden_size", 384)
    text_bytes = sum(len(chunk.text.encode("utf-8")) for chunk in chunks)
    size = len(chunks) * (dimension * 4 + HNSW_LINKS * 8) + text_bytes
    per_chunk = (details.get("seconds") or 0.0) / details["chunks"] if details.get("chunks") else None
    return {"chunks": len(chunks), "dimension": dimension, "bytes": size, "embedding_model": embedding.name,
            "chunk_size": details["chunk_size"], "overlap": details["overlap"],
            "seconds_here": per_chunk * len(chunks) if per_chunk is not None else None,
            "formula": f"{len(chunks):,} chunks × ({dimension} floats × 4 bytes + {HNSW_LINKS} graph links × 8 bytes) "
                       f"+ {text_bytes:,} bytes of text" + (
                           f"; time: the run's {per_chunk:.4f} s per chunk on {report.hardware.device or 'its machine'}"
                           f" × {len(chunks):,} chunks" if per_chunk is not None else "")}


def write_plan(run_dir: str | Path, *, gpus: int = 1, gpu: str | None = None, base_model: str | None = None,
               arm: str | None = None, prices: str | None = None) -> Plan:
    """Writes RUN_DIR/full-scale/: for a fine-tune, accelerate.yaml, job.json and train.sh with the projected
    time, memory and cost; for RAG, index.sh (the Chroma server and the whole corpus's indexing) with the
    projected index size and build time; PLAN.md and plan.json say it all."""
    if gpus < 1:
        raise ConfigError(f"--gpus must be at least 1, not {gpus}")
    run_dir = Path(run_dir).expanduser()
    report = finished_report(run_dir)
    kind = exported_arm(report, arm)
    folder = run_dir / PLAN_DIR
    folder.mkdir(exist_ok=True)
    for name in PLAN_FILES:  # an earlier plan's (of another option) would read as this one's
        (folder / name).unlink(missing_ok=True)
    files, commands, figures, notes = {}, [], {}, []
    if kind.tuned:
        name, model_config = _model_config(report, base_model)
        training = training_figures(report, model_config, gpus=gpus, gpu=gpu,
                                    prices=PriceTable.load(prices or report.config.get("prices")))
        write_json(folder / "job.json", training_job(report, name, training))
        write_atomic(folder / "accelerate.yaml", yaml.safe_dump(accelerate_config(training), sort_keys=False))
        launch = (f"accelerate launch --config_file {shlex.quote(str(folder / 'accelerate.yaml'))} "
                  f"-m advisor.full_training {shlex.quote(str(folder / 'job.json'))}")
        write_atomic(folder / "train.sh", "#!/bin/sh\n# The LoRA fine-tune of the whole corpus (advisor plan).\n"
                                          f"{launch}\n")
        files |= {"training job: the run's settings, the whole corpus": "job.json",
                  f"accelerate config ({training['strategy']}, {gpus} process(es))": "accelerate.yaml",
                  "the training command": "train.sh"}
        commands.append(launch)
        figures["training"] = training
        if training["strategy"] == "FSDP":
            notes.append("FSDP has not been run by the advisor's suite (it has no GPUs); `advisor plan --check` "
                         "starts the same job on two CPU processes with DDP")
    if kind.retrieval:
        index = index_figures(report, kind.name)
        corpus = shlex.quote(str(Path(report.config["corpus"]).resolve()))
        server = f"chroma run --path /srv/chroma --host 0.0.0.0 --port {CHROMA_PORT}"
        indexing = (f"advisor index {corpus} --chroma-url http://CHROMA_HOST:{CHROMA_PORT} --embedding-model "
                    f"{shlex.quote(index['embedding_model'])} --chunk-size {index['chunk_size']} "
                    f"--chunk-overlap {index['overlap']} --collection corpus")
        write_atomic(folder / "index.sh", "#!/bin/sh\n# The Chroma server (on its own machine), then the whole corpus "
                                          f"indexed into it (advisor plan).\n# {server}\n{indexing}\n")
        files["the Chroma server and indexing commands"] = "index.sh"
        commands += [server, indexing]
        figures["index"] = index
    plan = Plan(folder, kind.choice if kind.choice in ("finetune", "rag", "both") else kind.name, files,
                commands, figures, notes)
    write_json(folder / "plan.json", {"option": plan.option, "arm": kind.name, "files": files, "commands": commands,
                                      "figures": figures, "notes": notes})
    write_atomic(folder / "PLAN.md", plan_markdown(plan, report))
    return plan


def _duration(seconds: float) -> str:
    return (f"about {seconds / 3600:.1f} h" if seconds >= 3600 else f"about {seconds / 60:.1f} min" if seconds >= 60
            else f"about {seconds:.0f} s" if seconds >= 1 else "under a second")


def _usd(value: float) -> str:
    return f"about ${value:,.2f}" if value >= 0.01 else "under $0.01"


def plan_lines(plan: Plan) -> list[str]:
    """The projected figures in sentences, for PLAN.md and the terminal."""
    lines = []
    if "training" in plan.figures:
        t = plan.figures["training"]
        lines.append(f"Fine-tune: {parameters_text(t['base_parameters'])} parameters on {t['gpus']} × {t['gpu']} "
                     f"({t['strategy']}), {t['memory_gib_per_card']:.1f} GiB per card of {t['card_memory_gib']:g}; "
                     f"{_duration(t['seconds'])} of training (plus starting the processes and loading the "
                     f"model), {_usd(t['usd'])} at ${t['usd_per_hour']:g} per card-hour "
                     f"({t['formula']}).")
    if "index" in plan.figures:
        i = plan.figures["index"]
        took = f"{_duration(i['seconds_here'])} to build at this run's speed" if i["seconds_here"] else \
            "no build time (the run's indexing speed is not in its report)"
        lines.append(f"Index: {i['chunks']:,} chunks, about {i['bytes'] / 2 ** 20:,.1f} MiB, {took} "
                     f"({i['formula']}).")
    return lines + [f"Note: {note}." for note in plan.notes]


def plan_markdown(plan: Plan, report: Report) -> str:
    lines = [f"# Full-scale plan: {plan.option}", "",
             f"From the run in `{report.run_dir or plan.folder.parent}` (verdict: {report.recommendation.choice}, "
             f"{report.recommendation.confidence} confidence). Projections are estimates, each with its formula.", "",
             *plan_lines(plan), "", "## Files", "", *[f"- `{name}`: {what}" for what, name in plan.files.items()],
             "", "## Run", "", *[f"    {command}" for command in plan.commands], ""]
    if "training" in plan.figures:
        lines += ["The same job on any machine with torchrun: `torchrun --nproc_per_node N -m advisor.full_training "
                  "job.json`. Before renting cards: `advisor plan RUN_DIR --check` runs it for two steps on two CPU "
                  "processes with a tiny stand-in model.", ""]
    return "\n".join(lines)


CHECK_STEPS = 2


def check_plan(run_dir: str | Path, *, on_step=None) -> dict:
    """Runs the plan's training job for two steps on two CPU processes (torchrun, gloo), with a tiny stand-in
    model built from the corpus, so a plan that cannot start fails here and not on rented cards. Returns the
    training's figures; raises TrainingError with the processes' own error line."""
    from advisor.corpus.loading import load_corpus
    from advisor.models import build_tiny_model
    from finetune.distributed import TrainingFailed, launch

    folder = Path(run_dir).expanduser() / PLAN_DIR
    try:
        job = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    except OSError:
        raise ConfigError(f"{str(folder / 'job.json')!r} does not exist: there is no training plan to check",
                          hint="write one with: advisor plan RUN_DIR (for a fine-tune verdict, or --arm finetune)") \
            from None
    check = folder / "check"
    model = check / "stand-in-model"
    if not (model / "model.safetensors").is_file():
        try:
            texts = [d.text for d in load_corpus(job["corpus"]).documents]
        except Exception as exc:  # the job's own corpus: what the check is for
            raise TrainingError(f"the plan's corpus cannot be read ({exc})", hint="fix job.json's corpus") from None
        build_tiny_model(texts, model, seed=0, vocab_size=400)
    settings = {**job["settings"], "max_steps": CHECK_STEPS, "min_steps": 0, "precision": "fp32",
                "batch_size": 2, "micro_batch_size": None}
    write_json(check / "job.json", {**job, "model": str(model.resolve()), "dtype": "float32", "device": "cpu",
                                    "settings": settings, "budget_seconds": 600.0,
                                    "adapter_dir": "adapter", "checkpoint_dir": None})
    try:
        result = launch(check / "job.json", 2, on_step=on_step, threads_per_process=1, module="advisor.full_training")
    except TrainingFailed as exc:
        raise TrainingError(f"the plan's training did not start: {exc}",
                            hint=f"see {check / 'errors.log'}") from None
    return dataclasses.asdict(result)
