#!/bin/bash
# The device run of issue 25, on the lent GPU machine, from the repository's root, after prepare.sh here:
#   run(command="bash benchmarks/device/run.sh", carry=[".whl", ".gpu"], timeout_s=590)
# About 500 s on an H200 (2026-12-04): LoRA training on SmolLM2's shape and on SmolLM2-1.7B's, TRL beside ours; the
# step's levers; answering. Each part under its own timeout; every JSON and log lands in $OUT.
set -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
shape=.gpu/smollm2-shape
timeout "${LORA_SECONDS:-320}" python3 -m benchmarks.lora_training --device cuda --shape-only $shape --larger \
  --seconds 12 --repeats 2 --out "$OUT/lora_training-cuda-h200.json" > "$OUT/lora.log" 2>&1; echo "lora_training: exit $?"
tail -22 "$OUT/lora.log" | cut -c1-200
timeout "${STEP_SECONDS:-70}" python3 -m benchmarks.gpu_step --device cuda --shape-only $shape --seconds 4 \
  --out "$OUT/gpu_step-cuda-h200.json" > "$OUT/step.log" 2>&1; echo "gpu_step: exit $?"; tail -8 "$OUT/step.log"
timeout "${ANSWER_SECONDS:-170}" python3 -m benchmarks.answering --device cuda --shape-only $shape --questions 16 \
  --repeats 1 --out "$OUT/answering-cuda-h200.json" > "$OUT/answer.log" 2>&1; echo "answering: exit $?"
tail -30 "$OUT/answer.log" | cut -c1-180
