"""Ship a fine-tune's adapter as the bot's: copy what the bot and the evaluation read, in bf16.

    python -m training.ship runs/screenplay-smollm2-v2                 # into the shipped adapter
    python -m training.ship runs/lora --to model/adapters/my-room      # anywhere else

From a `training.finetune --out` folder it takes the best adapter (`adapter/`): its
`adapter_config.json`, its weights cast to bfloat16 (half the bytes; the bot merges them into
the model at load, where bf16's three digits of a LoRA update are lost in the sum anyway), the
`training_config.json` that records the prompt format the bot must ask in, and the data split the
evaluation holds out by; and from the run, its `loss_curve.png` and a `training_run.json` with the
validation history and where the best step was. The tokenizer the fine-tune saved beside the
adapter is the base model's and stays behind, as does everything else of the run. The model
card (`README.md` of the destination) is written by a person and never overwritten.

This module knows files of a fine-tune; it knows nothing of rooms or of how the bot loads them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model.loading import SHIPPED_ADAPTER, ModelLoadError
from training.finetune import SPLIT_FILE

#: What the bot and `training.evaluate` read beside an adapter, besides its weights.
KEPT = ("adapter_config.json", "training_config.json", SPLIT_FILE)
WEIGHTS = "adapter_model.safetensors"
RUN_SUMMARY = "training_run.json"


def ship(run: Path, to: Path = SHIPPED_ADAPTER) -> dict[str, Any]:
    """Copy the run's adapter into `to` (see the module's docstring); what was shipped."""
    import torch
    from safetensors.torch import load_file, save_file

    adapter = run / "adapter"
    missing = [name for name in (*KEPT, WEIGHTS) if not (adapter / name).is_file()]
    if missing:
        raise ModelLoadError(
            f"{adapter} is not a finished fine-tune's adapter: {', '.join(missing)} missing."
        )
    to.mkdir(parents=True, exist_ok=True)
    for name in KEPT:
        shutil.copyfile(adapter / name, to / name)
    weights = load_file(adapter / WEIGHTS)
    save_file(
        {
            key: value.to(torch.bfloat16).contiguous() if value.is_floating_point() else value
            for key, value in weights.items()
        },
        to / WEIGHTS,
        metadata={"format": "pt"},
    )
    if (run / "loss_curve.png").is_file():
        shutil.copyfile(run / "loss_curve.png", to / "loss_curve.png")
    summary = _run_summary(run)
    (to / RUN_SUMMARY).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return {
        "to": str(to),
        "tensors": len(weights),
        "bytes": (to / WEIGHTS).stat().st_size,
        **{k: v for k, v in summary.items() if k != "validation"},
    }


def _run_summary(run: Path) -> dict[str, Any]:
    """The run's validation history and best step, from its metrics (a finished run) or its
    checkpoint (a run stopped early, whose best adapter is shipped as it stands)."""
    history: list[dict[str, Any]] = []
    metrics = run / "metrics.json"
    if metrics.is_file():
        history = json.loads(metrics.read_text(encoding="utf-8")).get("history", [])
    else:
        state = run / "checkpoint" / "state.pt"
        if state.is_file():
            import torch

            history = torch.load(state, map_location="cpu", weights_only=False)["history"]
    validation = [
        {"step": h["step"], "val_loss": round(h["val_loss"], 4)} for h in history if "val_loss" in h
    ]
    best = min(validation, key=lambda v: v["val_loss"], default=None)
    steps = max((h["step"] for h in history), default=0)
    return {"steps": steps, "best_step": best and best["step"], "validation": validation}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.ship", description=__doc__.split("\n")[0])
    p.add_argument("run", help="the fine-tune's --out folder")
    p.add_argument("--to", default=str(SHIPPED_ADAPTER), help="where (default: the shipped one)")
    options = p.parse_args(argv)
    try:
        shipped = ship(Path(options.run), Path(options.to))
    except ModelLoadError as err:
        print(err, file=sys.stderr)
        return 2
    print(json.dumps(shipped, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
