"""The LoRA training of a job folder on several processes: `torchrun --nproc_per_node N -m finetune.distributed JOB`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path

from finetune.train import LoraSettings, TrainResult, train_lora

JOB_FILE = "job.json"
EXAMPLES_FILE = "examples.jsonl"
RESULT_FILE = "result.json"  # the main process's TrainResult, written once training and the adapter are done
ERRORS_FILE = "errors.log"  # what the processes wrote to standard error, when launch() started them


class TrainingFailed(RuntimeError):
    """The training processes stopped with an error; the message ends with the last one they wrote."""


def write_job(folder: str | Path, *, model_path: str | Path, dtype: str, examples: list[dict],
              settings: LoraSettings, device: str, budget_seconds: float, adapter_dir: str | Path,
              checkpoint_dir: str | Path | None = None, save_every: int = 10, save_seconds: float = 60.0) -> Path:
    """Writes what train_lora needs into `folder` (job.json and the tokenized examples) and returns job.json's path.
    Paths the training writes to are kept relative to `folder`, so that its run folder can move."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / EXAMPLES_FILE, "w", encoding="utf-8") as out:
        for example in examples:
            out.write(json.dumps(example) + "\n")
    job = {"model": str(Path(model_path).resolve()), "dtype": dtype, "examples": EXAMPLES_FILE,
           "settings": dataclasses.asdict(settings), "device": device, "budget_seconds": budget_seconds,
           "adapter_dir": os.path.relpath(adapter_dir, folder),
           "checkpoint_dir": os.path.relpath(checkpoint_dir, folder) if checkpoint_dir else None,
           "save_every": save_every, "save_seconds": save_seconds}
    (folder / JOB_FILE).write_text(json.dumps(job, indent=2), encoding="utf-8")
    (folder / RESULT_FILE).unlink(missing_ok=True)  # an earlier training's result is not this one's
    return folder / JOB_FILE


def run_job(job_path: str | Path, *, started: float | None = None, on_step=None,
            examples_for=None) -> TrainResult:
    """Trains what `job_path` says, as one of the processes torchrun started (or alone): the main process writes
    the adapter and result.json. The budget counts from `started` (time.time(): the launch), else from now.
    `examples_for(job, tokenizer)`, when given, makes the examples (on each process) instead of the job's file."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = started or time.time()
    folder = Path(job_path).parent
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(job["model"])
    if tokenizer.pad_token is None:  # as advisor.models.load_generator does
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(job["model"], dtype=getattr(torch, job["dtype"]),
                                                 use_safetensors=True, trust_remote_code=False)
    if examples_for is not None:
        examples = examples_for(job, tokenizer)
    else:
        with open(folder / job["examples"], encoding="utf-8") as lines:
            examples = [json.loads(line) for line in lines]
    launching = time.time() - started  # starting the processes and loading the model: inside the budget
    _, result = train_lora(model, tokenizer, examples, LoraSettings(**job["settings"]),
                           (folder / job["adapter_dir"]).resolve(), device=job["device"],
                           budget_seconds=job["budget_seconds"] - launching, on_step=on_step,
                           checkpoint_dir=(folder / job["checkpoint_dir"]).resolve() if job["checkpoint_dir"] else None,
                           save_every=job["save_every"], save_seconds=job["save_seconds"])
    result.seconds += launching
    result.seconds_before_first_step += launching
    result.budget_seconds = job["budget_seconds"]
    if _is_main_process():
        (folder / RESULT_FILE).write_text(json.dumps(dataclasses.asdict(result)), encoding="utf-8")
    return result


def _is_main_process() -> bool:
    from accelerate import PartialState  # the distributed state the Trainer set up

    return PartialState().is_main_process


def launch(job_path: str | Path, processes: int, *, on_step=None, threads_per_process: int | None = None,
           module: str = "finetune.distributed") -> TrainResult:
    """Runs the job on `processes` processes started by torchrun (gloo on a CPU, NCCL on GPUs: the Trainer picks),
    calling `on_step(step, planned, loss)` as the main process reports each step, and returns its TrainResult.
    An exception from `on_step` (a cancelled run) stops the processes; checkpoints written so far stay for the next
    launch. Raises TrainingFailed when they fail."""
    import signal
    import subprocess

    folder = Path(job_path).parent
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", module, str(job_path), "--started", repr(time.time())]
    # torchrun gives each process one thread unless told otherwise: the machine's cores go to the processes.
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads_per_process)} if threads_per_process else {})}
    with open(folder / ERRORS_FILE, "w", encoding="utf-8") as errors:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL,
                                 text=True, env=env, start_new_session=True)
        try:
            for line in child.stdout:
                if line.startswith('{"step": ') and on_step:  # main() wrote it; any other line is not ours
                    event = json.loads(line)
                    on_step(event["step"], event["planned"], event["loss"])
            returncode = child.wait()
        except BaseException:
            os.killpg(child.pid, signal.SIGTERM)  # torchrun passes it on to the processes it started
            child.wait()
            raise
    if returncode or not (folder / RESULT_FILE).is_file():
        raise TrainingFailed(f"the {processes} training processes failed (exit status {returncode}): "
                             f"{last_error(folder / ERRORS_FILE)}")
    return TrainResult(**json.loads((folder / RESULT_FILE).read_text(encoding="utf-8")))


def last_error(errors_file: Path) -> str:
    """The line of the processes' standard error that says what went wrong: the last exception's (torchrun's summary
    ends with the first failure's), else the last line."""
    import re

    lines = [re.sub(r"^\[rank\d+\]:\s*", "", line.strip()) for line in
             errors_file.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    for line in reversed(lines):
        name = line.split(":", 1)[0] if ":" in line else ""
        if (re.fullmatch(r"[\w.]*(Error|Exception|Interrupt)", name)
                and not name.endswith("ChildFailedError")):  # torchrun's own, which says only that one failed
            return line
    return lines[-1] if lines else "they wrote nothing to standard error"


def main(argv: list[str] | None = None, *, examples_for=None, prog: str = "torchrun --nproc_per_node N -m "
         "finetune.distributed", description: str = "LoRA training of a job folder written by the advisor "
         "(RUN_DIR/train-job/job.json), on the processes torchrun starts.") -> None:
    """The processes' entry point; `examples_for` as run_job takes it (another entry's own examples)."""
    from torch.distributed.elastic.multiprocessing.errors import record

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("job", help="the job's job.json")
    parser.add_argument("--started", type=float, default=None,
                        help="when the launch began (seconds since the epoch): the budget counts from it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # bars drawn by each process would bury the lines that matter

    def report_step(step, planned, loss):  # one JSON line per step, read by launch()
        print(json.dumps({"step": step, "planned": planned, "loss": loss}), flush=True)

    # record: torchrun then names the process that failed and its exception.
    record(run_job)(args.job, started=args.started, on_step=report_step, examples_for=examples_for)
    _end_process_group()


def _end_process_group() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
