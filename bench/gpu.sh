#!/usr/bin/env bash
# The GPU checks of the generation engine, as one script for a session that is lent a GPU.
#
# It runs (1) the engine tests on the GPU — the Hugging Face engine, the slot engine, and the
# slot engine with real CUDA graphs — against `generate` token for token, then (2) the queue
# benchmark at 64 (and, with ROOMS="16 64", 256) concurrent sequences in bf16, with CUDA graphs
# on and off. Figures go to $OUT (default /tmp/gpu-out) as JSON, one file per run, and to
# standard output. Worst case about 150 + 4 x 90 s: within one 600 s device command.
#
# The device machine has torch, transformers and peft but not this project's model files, and
# maybe not pytest. Prepare a folder `.gpu` (ignored by git; name it in the run's `carry`) with
# the default model's config and tokenizer (a few MB; the weights do not fit the transfer limit,
# so the benchmark runs the same architecture with random weights — the same shapes and work,
# timing only) and pure-Python pytest:
#
#   mkdir -p .gpu/models && cp -r ~/.cache/writers-room/models/SmolLM2-135M-Instruct .gpu/models/
#   rm .gpu/models/SmolLM2-135M-Instruct/*.safetensors
#   pip install --target .gpu/site pytest pytest-asyncio
#
# then run `bash bench/gpu.sh` there. `DEVICE=cpu ROOMS=1 bash bench/gpu.sh` tries the script
# itself on a machine without a GPU.
set -u -o pipefail
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
export WRITERS_ROOM_CACHE=${WRITERS_ROOM_CACHE:-$PWD/.gpu}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH=$PWD:$PWD/.gpu/site${PYTHONPATH:+:$PYTHONPATH}
MODEL_DIR=$WRITERS_ROOM_CACHE/models/SmolLM2-135M-Instruct
[ -f "$MODEL_DIR/config.json" ] || echo "missing $MODEL_DIR/config.json (see the header)"
$PY -c "import torch, transformers; print('torch', torch.__version__, 'transformers', \
transformers.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"

echo "== engine tests on the GPU"
if $PY -c "import pytest" 2>/dev/null; then
    WRITERS_ROOM_TEST_DEVICE=$DEVICE timeout "${TEST_TIMEOUT:-150}" $PY -m pytest -q -x \
        -m "not slow" -p no:cacheprovider tests/model/test_engine.py 2>&1 | tail -15
    echo "tests rc $?"
else
    echo "no pytest on this machine (see the header)"
fi

echo "== queue benchmark"
for rooms in ${ROOMS:-16}; do
    for graphs in 1 0; do
        name="$OUT/queue-$((rooms * 4))-graphs$graphs.json"
        WRITERS_ROOM_CUDA_GRAPHS=$graphs timeout "${BENCH_TIMEOUT:-90}" $PY -m bench.queue \
            --json --device "$DEVICE" --rooms "$rooms" --takes 4 --tokens 128 --sequential-takes 1 \
            --random-weights "$MODEL_DIR" >"$name" 2>"$name.log"
        echo "$((rooms * 4)) sequences, graphs $graphs (rc $?): $(cat "$name")"
        [ -s "$name" ] || tail -3 "$name.log"
    done
done
