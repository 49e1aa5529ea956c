#!/bin/bash
# The device run of issue 25, on the lent GPU machine, from the repository's root, after prepare.sh here:
#   run(command="bash benchmarks/device/run.sh", carry=[".whl", ".gpu"], timeout_s=590)
# About 560 s on an H200 (2026-12-04): LoRA training on SmolLM2's shape and on SmolLM2-1.7B's, ours (eager and with its
# decoder layers compiled), TRL at its best and the bf16 hand loop beside it; answering; the step's levers with the share
# of the step the GPU is busy. Each part under its own timeout, the most wanted first; every JSON and log lands in $OUT.
set -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
shape=.gpu/smollm2-shape
timeout "${LORA_SECONDS:-330}" python3 -m benchmarks.lora_training --device cuda --shape-only $shape --larger \
  --recipes ours ours_compiled hand_autocast trl_best --seconds 10 --repeats 2 \
  --out "$OUT/lora_training-cuda-h200.json" > "$OUT/lora.log" 2>&1; echo "lora_training: exit $?"
tail -24 "$OUT/lora.log" | cut -c1-200
timeout "${ANSWER_SECONDS:-150}" python3 -m benchmarks.answering --device cuda --shape-only $shape --questions 16 \
  --repeats 1 --out "$OUT/answering-cuda-h200.json" > "$OUT/answer.log" 2>&1; echo "answering: exit $?"
tail -30 "$OUT/answer.log" | cut -c1-180
timeout "${STEP_SECONDS:-60}" python3 -m benchmarks.gpu_step --device cuda --shape-only $shape --seconds 3 \
  --only packed "packed, layers compiled" "packed, 4x the batch" \
  --out "$OUT/gpu_step-cuda-h200.json" > "$OUT/step.log" 2>&1; echo "gpu_step: exit $?"; tail -8 "$OUT/step.log"
