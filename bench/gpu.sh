#!/usr/bin/env bash
# The GPU checks of the generation engine, as one script for a session that is lent a GPU.
#
# It runs (1) the engine tests on the GPU — the Hugging Face engine, the slot engine, and the
# slot engine with real CUDA graphs — against `generate` token for token, then (2) the queue
# benchmark at 64 and 256 concurrent sequences (bf16), with CUDA graphs on and off. Figures go
# to $OUT (default /tmp/gpu-out) as JSON, one file per run, and to standard output.
#
# The device machine has torch, transformers and peft but not this project's model files. Carry
# a folder with the default model's config and tokenizer (a few MB; the weights do not fit the
# transfer limit, so the benchmark runs the same architecture with random weights — the same
# shapes and work, timing only):
#
#   mkdir -p .gpu/models && cp -r ~/.cache/writers-room/models/SmolLM2-135M-Instruct .gpu/models/
#   rm .gpu/models/SmolLM2-135M-Instruct/*.safetensors
#   # and, where the device lacks them: pip download -d .gpu/wheels pytest pytest-asyncio
#
# then run `bash bench/gpu.sh` there with `.gpu` carried (git ignores it via .git/info/exclude).
set -u
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
export WRITERS_ROOM_CACHE=${WRITERS_ROOM_CACHE:-$PWD/.gpu}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
MODEL_DIR=$WRITERS_ROOM_CACHE/models/SmolLM2-135M-Instruct
if [ -d .gpu/wheels ]; then
    python -m pip install -q --no-index --find-links .gpu/wheels pytest pytest-asyncio 2>&1 | tail -2
fi
python -c "import torch, transformers; print('torch', torch.__version__, 'transformers', \
transformers.__version__, torch.cuda.get_device_name())"

echo "== engine tests on the GPU"
WRITERS_ROOM_TEST_DEVICE=cuda timeout "${TEST_TIMEOUT:-240}" python -m pytest -q -x \
    -p no:cacheprovider tests/model/test_engine.py 2>&1 | tail -15

echo "== queue benchmark"
for rooms in ${ROOMS:-16 64}; do
    for graphs in 1 0; do
        name="$OUT/queue-$((rooms * 4))-graphs$graphs.json"
        WRITERS_ROOM_CUDA_GRAPHS=$graphs timeout "${BENCH_TIMEOUT:-150}" python -m bench.queue \
            --json --device cuda --rooms "$rooms" --takes 4 --tokens 128 --sequential-takes 4 \
            --random-weights "$MODEL_DIR" >"$name" 2>"$name.log"
        echo "$((rooms * 4)) sequences, graphs $graphs (rc $?): $(cat "$name")"
    done
done
