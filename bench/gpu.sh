#!/usr/bin/env bash
# The GPU checks, as one script for a session that is lent a GPU.
#
# It runs (1) the engine tests on the GPU — the Hugging Face engine, the slot engine, and the
# slot engine with real CUDA graphs — against `generate` token for token, then (2) the queue
# benchmark at 64 (and, with ROOMS="16 64", 256) concurrent sequences in bf16, with CUDA graphs
# on and off, then (3) the route to a larger model (issue 15, docs/DEPLOY.md): a LoRA fine-tune of
# $BIG_MODEL (default Qwen/Qwen2.5-1.5B-Instruct) on the shipped corpus for $FT_STEPS steps
# (default 300) and `training.evaluate` of base against base + adapter, time-boxed; it is skipped,
# saying why, when the weights are neither in the Hugging Face cache nor downloadable there.
# PARTS (default "tests queue finetune") picks the parts: (1) and (2) take at most about
# 150 + 4 x 90 s, (3) at most $FT_TIMEOUT + $EVAL_TIMEOUT (240 + 200 s), so run them as two device
# commands of 600 s: PARTS="tests queue", then PARTS=finetune. Figures go to $OUT (default
# /tmp/gpu-out) as JSON, one file per run, and to standard output; (3) writes
# $OUT/finetune-<model>.json, to be committed as bench/results/<gpu>-<date>-finetune.json.
#
# The device machine has torch, transformers and peft but not this project's model files, and
# maybe not pytest. Prepare a folder `.gpu` (ignored by git; name it in the run's `carry`) with
# the default model's config and tokenizer (a few MB; the weights do not fit the transfer limit,
# so the benchmark runs the same architecture with random weights — the same shapes and work,
# timing only) and pure-Python pytest (and defusedxml, which the corpus reader needs):
#
#   mkdir -p .gpu/models && cp -r ~/.cache/writers-room/models/SmolLM2-135M-Instruct .gpu/models/
#   rm .gpu/models/SmolLM2-135M-Instruct/*.safetensors
#   pip install --target .gpu/site pytest pytest-asyncio defusedxml
#
# then run `bash bench/gpu.sh` there. `DEVICE=cpu ROOMS=1 bash bench/gpu.sh` tries the script
# itself on a machine without a GPU; `PARTS=finetune BIG_MODEL=<a tiny model dir> FT_STEPS=2
# FT_ARGS="--max-len 96" EVAL_ARGS="--max-new-tokens 8 --tasks dialogue"` tries part (3).
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

PARTS=${PARTS:-tests queue finetune}
has_part() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if has_part tests; then
echo "== engine tests on the GPU"
if $PY -c "import pytest" 2>/dev/null; then
    WRITERS_ROOM_TEST_DEVICE=$DEVICE timeout "${TEST_TIMEOUT:-150}" $PY -m pytest -q \
        -m "not slow" -p no:cacheprovider tests/model/test_engine.py \
        tests/model/test_fastpath.py 2>&1 | tail -15
    echo "tests rc $?"
else
    echo "no pytest on this machine (see the header)"
fi
fi

if has_part queue; then
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
fi

if has_part finetune; then
echo "== fine-tune and evaluate a larger model"
BIG_MODEL=${BIG_MODEL:-Qwen/Qwen2.5-1.5B-Instruct}
BIG_DIR=$OUT/finetune-$(basename "$BIG_MODEL")
# A local model directory as it is; a Hub id from the Hugging Face cache, else downloaded (a
# minute for 3 GB, where there is a network at all); skipped, saying why, when neither gives it.
if [ ! -d "$BIG_MODEL" ] && ! HF_HUB_OFFLINE=0 timeout "${FETCH_TIMEOUT:-60}" $PY -c "import sys
from huggingface_hub import snapshot_download
try:
    snapshot_download(sys.argv[1], local_files_only=True)
except Exception:
    print('not in the Hugging Face cache; downloading', flush=True)
    snapshot_download(sys.argv[1], allow_patterns=['*.json', '*.safetensors', '*.txt'])
" "$BIG_MODEL" 2>"$BIG_DIR.fetch.log"; then
    echo "no real weights: $BIG_MODEL is not in the Hugging Face cache of this machine" \
        "(${HF_HOME:-~/.cache/huggingface}) and could not be downloaded: $(tail -1 "$BIG_DIR.fetch.log")"
    echo "   part 'larger' times the architectures instead (random weights: times and memory only)"
    has_part larger || PARTS="$PARTS larger"
else
    timeout "${FT_TIMEOUT:-240}" $PY -m training.finetune --model "$BIG_MODEL" \
        --max-steps "${FT_STEPS:-300}" --eval-every 50 --batch-size 8 --max-len 768 --lr 1e-4 \
        --warmup-steps 20 --out "$BIG_DIR" ${FT_ARGS:-} >"$BIG_DIR.log" 2>&1
    echo "fine-tune rc $?: $(grep -E 'validation|done:|Error' "$BIG_DIR.log" | tail -4)"
    if [ -f "$BIG_DIR/adapter/adapter_config.json" ]; then
        timeout "${EVAL_TIMEOUT:-200}" $PY -m training.evaluate --model "$BIG_MODEL" \
            --adapter "$BIG_DIR/adapter" --requests 1 --takes 2 --limit-examples 48 --json \
            --takes-out "$BIG_DIR/takes.jsonl" ${EVAL_ARGS:-} >"$BIG_DIR.eval.json" \
            2>"$BIG_DIR.eval.log"
        echo "evaluate rc $?"
        [ -s "$BIG_DIR.eval.json" ] || tail -3 "$BIG_DIR.eval.log"
    fi
    # One file with what was run, where, and its figures (the partial ones of a run cut short).
    $PY - "$BIG_MODEL" "$BIG_DIR" <<'PYEOF' >"$BIG_DIR.json"
import datetime, json, sys
from pathlib import Path

import torch

model, run = sys.argv[1], Path(sys.argv[2])


def read(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


metrics = read(run / "metrics.json") or {}
print(json.dumps({
    "machine": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
    "date": datetime.date.today().isoformat(),
    "model": model,
    "finetune": {k: v for k, v in metrics.items() if k != "history"},
    "validation": [h for h in metrics.get("history", []) if "val_loss" in h],
    "evaluate": read(Path(f"{run}.eval.json")),
}, indent=2))
PYEOF
    echo "figures: $BIG_DIR.json"
    grep -E '"(best_val_ppl|base_val_loss|best_val_loss|steps|seconds)"' "$BIG_DIR.json"
fi
fi

if has_part larger; then
echo "== larger models with random weights: how long a room's fine-tune and takes would take"
# For each config (bench/models/NAME or a directory with a config.json): random weights written
# on the GPU with the default model's tokenizer (bench.random_weights), a short LoRA fine-tune
# on the shipped corpus (its metrics give seconds a step, training tokens/s and peak memory), and
# the queue benchmark at $LARGER_ROOMS x 4 takes. A part that would not end before $DEADLINE
# seconds of this script is skipped, saying so, so that one device command brings back the rest.
for config in ${LARGER:-qwen2.5-1.5b-instruct qwen2.5-7b-instruct}; do
    [ -d "$config" ] || config=bench/models/$config
    name=$(basename "$config")
    if [ $((SECONDS + ${LARGER_NEEDS:-150})) -gt "${DEADLINE:-100000}" ]; then
        echo "$name: skipped, $SECONDS s gone of a ${DEADLINE:-} s deadline"
        continue
    fi
    dir=/tmp/random-$name
    rm -rf "$dir" "$OUT/larger-$name"
    timeout "${WRITE_TIMEOUT:-120}" $PY -m bench.random_weights "$config" "$dir" \
        --device "$DEVICE" 2>"$OUT/larger-$name.write.log" | tail -1
    [ -f "$dir/config.json" ] || { tail -3 "$OUT/larger-$name.write.log"; continue; }
    # Gradient checkpointing as DEPLOY.md runs a 7B-8B model; a smaller one fits without it.
    timeout "${LARGER_FT_TIMEOUT:-150}" $PY -m training.finetune --model "$dir" \
        --max-steps "${LARGER_STEPS:-12}" --eval-every "${LARGER_STEPS:-12}" --val-limit 16 \
        --batch-size 8 --max-len 768 --warmup-steps 2 --out "$OUT/larger-$name" \
        ${LARGER_FT_ARGS:---gradient-checkpointing} >"$OUT/larger-$name.log" 2>&1
    echo "$name fine-tune rc $?: $(grep -E 'done:|Error' "$OUT/larger-$name.log" | tail -2)"
    timeout "${BENCH_TIMEOUT:-90}" $PY -m bench.queue --json --device "$DEVICE" \
        --rooms "${LARGER_ROOMS:-16}" --takes 4 --tokens 128 --sequential-takes 1 \
        --random-weights "$config" >"$OUT/queue-$name.json" 2>"$OUT/queue-$name.log"
    echo "$name queue (rc $?): $(cat "$OUT/queue-$name.json")"
    [ -s "$OUT/queue-$name.json" ] || tail -3 "$OUT/queue-$name.log"
    rm -rf "$dir" "$OUT/larger-$name/checkpoint" "$OUT/larger-$name/adapter"
done
fi
