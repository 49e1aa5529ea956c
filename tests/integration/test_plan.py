"""`advisor plan`: the full-scale files for a fine-tune (accelerate config, job, command, projections) and for RAG
(server and indexing commands, index size), and `--check`, which starts the written training on two CPU processes."""

import json
from pathlib import Path

import pytest
import yaml

import advisor
from advisor.errors import ConfigError, TrainingError
from advisor.measure.projection import parameter_count
from advisor.plan import MFU, PLAN_DIR, check_plan, write_plan

LLAMA_2_70B = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8192,
               "num_hidden_layers": 80, "intermediate_size": 28672, "num_attention_heads": 64,
               "num_key_value_heads": 8, "vocab_size": 32000, "tie_word_embeddings": False}


def test_a_fine_tune_plan_writes_a_ddp_launch_of_the_whole_corpus_with_its_projection(finished_run):
    from accelerate.commands.config.config_args import ClusterConfig

    report = advisor.Report.load(finished_run / "report.json")
    plan = write_plan(finished_run, arm="finetune", gpus=2, gpu="H100")
    folder = finished_run / PLAN_DIR
    launch = ClusterConfig.from_yaml_file(str(folder / "accelerate.yaml"))  # accelerate itself reads it
    assert launch.distributed_type == "MULTI_GPU" and launch.num_processes == 2 and launch.mixed_precision == "bf16"
    job = json.loads((folder / "job.json").read_text())
    assert job["corpus"] == str(Path(report.config["corpus"]).resolve()) and job["qa"]
    assert job["settings"]["batch_size"] == 2 * report.config["batch_size"]  # each card takes the run's batch
    assert job["settings"]["max_steps"] is None and job["settings"]["learning_rate"] == report.config["learning_rate"]
    assert "accelerate launch --config_file" in (folder / "train.sh").read_text()
    training = plan.figures["training"]
    parameters = parameter_count(json.loads((Path(report.models.base["path"]) / "config.json").read_text()))
    tokens = report.corpus.tokens * report.config["epochs"]
    assert training["seconds"] == pytest.approx(4 * parameters * tokens / (2 * 989e12 * MFU))
    assert training["usd"] == pytest.approx(training["seconds"] / 3600 * 2 * 2.5)
    assert "DDP" in (folder / "PLAN.md").read_text()


def test_a_model_larger_than_one_card_is_sharded_and_too_few_cards_are_refused(finished_run, tmp_path):
    big = tmp_path / "llama-2-70b"
    big.mkdir()
    (big / "config.json").write_text(json.dumps(LLAMA_2_70B))
    plan = write_plan(finished_run, arm="finetune", gpus=4, gpu="A100-80GB", base_model=str(big))
    training = plan.figures["training"]
    assert training["strategy"] == "FSDP" and training["memory_gib_per_card"] < 80
    config = yaml.safe_load((finished_run / PLAN_DIR / "accelerate.yaml").read_text())
    assert config["distributed_type"] == "FSDP" and config["fsdp_config"]["fsdp_use_orig_params"] is True
    with pytest.raises(ConfigError, match="pass --gpus 2"):
        write_plan(finished_run, arm="finetune", gpus=1, gpu="A100-80GB", base_model=str(big))


def test_plan_check_starts_the_written_training_on_two_cpu_processes(finished_run, run_cli):
    done = run_cli("plan", finished_run, "--arm", "finetune", "--check")
    assert done.returncode == 0, done.stderr
    assert "Check passed: 2 steps on 2 processes" in done.stdout
    assert (finished_run / PLAN_DIR / "check" / "adapter" / "adapter_model.safetensors").is_file()


def test_a_plan_whose_training_cannot_start_fails_its_check_with_the_processes_error(finished_run, tmp_path):
    write_plan(finished_run, arm="finetune")
    job_file = finished_run / PLAN_DIR / "job.json"
    job = json.loads(job_file.read_text())
    job_file.write_text(json.dumps({**job, "qa": str(tmp_path / "moved.jsonl")}))  # the QA file is not there
    with pytest.raises(TrainingError) as failed:
        check_plan(finished_run)
    assert "the plan's training did not start" in str(failed.value) and "moved.jsonl" in str(failed.value)


def test_a_rag_plan_writes_the_server_and_indexing_commands_and_the_indexing_command_works(finished_run, run_cli,
                                                                                          tmp_path):
    plan = write_plan(finished_run, arm="rag")
    index = plan.figures["index"]
    assert index["chunks"] > 0 and index["bytes"] > index["chunks"] * index["dimension"] * 4
    assert index["seconds_here"] > 0  # at the run's own indexing speed, which its report now keeps
    assert not (finished_run / PLAN_DIR / "job.json").exists()  # the fine-tune plan written before is gone
    assert plan.commands[0].startswith("chroma run --path")
    indexing = plan.commands[1]
    assert indexing.startswith("advisor index ") and "--chroma-url http://CHROMA_HOST:8000" in indexing
    args = indexing.split()[2:]  # as written, with an embedded store in place of the server
    args[args.index("--chroma-url"):args.index("--chroma-url") + 2] = ["--path", str(tmp_path / "store")]
    done = run_cli("index", *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{index['chunks']} chunks in collection 'corpus'")
