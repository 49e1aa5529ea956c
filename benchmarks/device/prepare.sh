#!/bin/bash
# Makes what a lent GPU machine needs for the device runs (run.sh), here, before the first call: the Python packages its
# image lacks or holds too old, as wheels in .whl/ (20 MB), and SmolLM2's shape (config, tokenizer, chat template; no
# weights) in .gpu/smollm2-shape. Both are git-ignored through .git/info/exclude; name them in the device call's carry.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
exclude=$(git rev-parse --git-path info/exclude)
for folder in /.whl/ /.gpu/; do grep -qxF "$folder" "$exclude" || echo "$folder" >> "$exclude"; done
mkdir -p .whl .gpu/smollm2-shape
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  transformers==5.25.0 huggingface_hub==2.4.0 httpx2==2.16.2 httpcore2==2.16.2 truststore==0.10.5 kernels==0.19.1 \
  tomlkit==0.15.3 peft==0.21.2 accelerate==1.16.0 trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
model=$(HF_HUB_OFFLINE=1 .venv/bin/python -c "from advisor.models import packaged_default_gguf; from advisor.gguf_cache import convert_gguf; print(convert_gguf(packaged_default_gguf()).folder)")
cp "$model"/config.json "$model"/generation_config.json "$model"/tokenizer.json "$model"/tokenizer_config.json \
  "$model"/chat_template.jinja .gpu/smollm2-shape/
du -sh .whl .gpu
