"""`advisor export`: the merged model answers as the tuned arm did, its GGUF reads back with the same logits, the
Modelfile prompts as the run did, and the RAG bundle answers as the RAG arm did."""

import re

import pytest

import advisor
from advisor.errors import ExportError
from advisor.export import GGUF_ARCHITECTURES, _write_gguf, export_run, exported_arm
from conftest import CHATML

def _answer(model, tokenizer, question: str, passages=None) -> str:
    from advisor.measure.metrics import first_line
    from rag.generation import generate
    from rag.prompting import build_prompt

    return first_line(generate(model, tokenizer, build_prompt(tokenizer, question, passages), 4).text)


def _logits(model, ids):
    import torch

    with torch.no_grad():
        return model(torch.tensor([ids])).logits


def test_hf_export_loads_with_from_pretrained_and_answers_as_the_tuned_arm(finished_run, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    report = advisor.Report.load(finished_run / "report.json")
    exported = export_run(finished_run, "hf", tmp_path / "hf", arm="finetune")
    model = AutoModelForCausalLM.from_pretrained(exported.folder / "model")
    tokenizer = AutoTokenizer.from_pretrained(exported.folder / "model")
    assert tokenizer.chat_template == CHATML
    for sample in report.arms["finetune"].details["samples"][:3]:  # answered one at a time, as here
        assert _answer(model, tokenizer, sample["question"]) == sample["answer"]
    base = AutoModelForCausalLM.from_pretrained(report.models.base["path"])
    ids = tokenizer("the ferry")["input_ids"]
    assert not _logits(base, ids).allclose(_logits(model, ids), atol=1e-6)  # the adapter is in the weights
    assert (exported.folder / "export.json").is_file() and "advisor ask" in (exported.folder / "README.md").read_text()


@pytest.mark.parametrize("gguf_type, tolerance", [("f32", 1e-5), ("f16", 2e-2)])
def test_gguf_export_reads_back_through_transformers_with_the_merged_models_logits(finished_run, tmp_path,
                                                                                   gguf_type, tolerance):
    """Tolerance: float32 keeps the weights exactly; float16's rounding moves a logit by about 1e-3 here."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged = export_run(finished_run, "hf", tmp_path / "hf", arm="finetune").folder / "model"
    exported = export_run(finished_run, "gguf", tmp_path / "gguf", arm="finetune", gguf_type=gguf_type)
    assert not (exported.folder / "model").exists()  # the GGUF alone, as asked
    from_gguf = AutoModelForCausalLM.from_pretrained(exported.folder, gguf_file="model.gguf")
    ids = AutoTokenizer.from_pretrained(merged)("the ferry leaves at nine")["input_ids"]
    expected = _logits(AutoModelForCausalLM.from_pretrained(merged), ids)
    assert (_logits(from_gguf, ids) - expected).abs().max().item() <= tolerance


def _fill(template: str, system: str | None, prompt: str) -> str:
    """What Ollama's template engine makes of the few constructs ollama_template writes."""
    def branch(match):
        return match.group(1) if system else match.group(2)

    text = re.sub(r"\{\{ if \.System \}\}(.*?)\{\{ else \}\}(.*?)\{\{ end \}\}", branch, template, flags=re.S)
    return text.replace("{{ .System }}", system or "").replace("{{ .Prompt }}", prompt)


def test_ollama_export_writes_a_modelfile_that_prompts_as_the_run_did(finished_run, tmp_path):
    from transformers import AutoTokenizer

    from rag.prompting import build_prompt

    exported = export_run(finished_run, "ollama", tmp_path / "ollama", arm="finetune", name="ferry-tuned")
    text = (exported.folder / "Modelfile").read_text()
    assert "FROM ./model.gguf\n" in text and "PARAMETER temperature 0\n" in text
    assert 'PARAMETER stop "<|im_end|>"' in text
    template = re.search(r'TEMPLATE """(.*?)"""', text, re.S).group(1)
    system = re.search(r'SYSTEM """(.*?)"""', text, re.S).group(1)
    tokenizer = AutoTokenizer.from_pretrained(advisor.Report.load(finished_run / "report.json").models.base["path"])
    assert _fill(template, system, "Who opened the station?") == build_prompt(tokenizer, "Who opened the station?")
    assert f"ollama create ferry-tuned -f {exported.folder / 'Modelfile'}" in exported.commands
    assert (exported.folder / "model.gguf").stat().st_size > 0


def test_rag_export_answers_through_advisor_ask_as_the_rag_arm_did(finished_run, tmp_path, run_cli):
    report = advisor.Report.load(finished_run / "report.json")
    sample = report.arms["rag"].details["samples"][0]
    done = run_cli("export", finished_run, "--arm", "rag", "--out", tmp_path / "bundle")
    assert done.returncode == 0, done.stderr
    assert "index" in done.stdout and "advisor ask" in done.stdout
    asked = run_cli("ask", tmp_path / "bundle", sample["question"])
    assert asked.returncode == 0, asked.stderr
    lines = asked.stdout.splitlines()
    assert lines[0] == sample["answer"]
    assert lines[1] == "sources: " + ", ".join(dict.fromkeys(sample["retrieved"]))


def test_an_architecture_without_a_tested_conversion_is_refused_in_one_line(tmp_path):
    with pytest.raises(ExportError) as refused:
        _write_gguf(tmp_path, "Qwen2ForCausalLM", tmp_path / "model.gguf", "f16")
    assert "Qwen2ForCausalLM" in str(refused.value) and all(name in str(refused.value) for name in GGUF_ARCHITECTURES)


def test_a_tokenizer_the_converter_does_not_know_is_one_clear_line(tiny_model_dir, tmp_path):
    with pytest.raises(ExportError) as refused:
        _write_gguf(tiny_model_dir, "LlamaForCausalLM", tmp_path / "model.gguf", "f16")
    assert "does not know this model's tokenizer" in str(refused.value)


def test_a_verdict_with_nothing_to_hand_over_says_how_to_export_an_arm_anyway(ferry_report):
    import dataclasses

    report = advisor.Report.load(ferry_report)
    neither = dataclasses.replace(report, recommendation=dataclasses.replace(report.recommendation, choice="neither"))
    with pytest.raises(ExportError, match="--arm"):
        exported_arm(neither)
    assert exported_arm(neither, "rag").name == "rag"
    with pytest.raises(ExportError, match="no arm 'nonsense'"):
        exported_arm(report, "nonsense")
