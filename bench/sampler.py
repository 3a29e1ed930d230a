"""What the sampler costs a decode step: the draw and the drawn tokens' log-probabilities, by
torch's operators (`model.sampling.sample` and `token_logprobs`) and by our kernel
(`model.kernels.sample`, which `model.sampling.draw` calls where it runs), at the batch sizes a
room sees.

    python -m bench.sampler                     # rows 1, 4, 8, 32; the bot's settings
    python -m bench.sampler --rows 32 --dry 0.8 --vocab 151936

Per row count: milliseconds per step of torch's draw (repetition penalty, DRY when `--dry` is
above 0, top-k, top-p, temperature and the Gumbel draw over the output projection's logits) and
of its log-probabilities, then of the kernel's one call for both (not with DRY: `draw` leaves
that to torch) and the ratio of the two; each row having seen `--seen` distinct tokens (a prompt
of about 400 tokens), the median of `--repeats` runs; and how many of the rows' tokens the two
drew alike. Figures, not tests: nothing here passes or fails. What they said is in the README
(Performance).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch

from model import kernels
from model.repeats import Marks
from model.sampling import SamplingTable, candidates_for, sample, token_logprobs
from model.tasks import Sampling


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 4, 8, 32])
    parser.add_argument("--vocab", type=int, default=49152, help="SmolLM2's 49,152 by default")
    parser.add_argument("--seen", type=int, default=400, help="distinct tokens each row has seen")
    parser.add_argument("--dry", type=float, default=0.0, help="DRY multiplier (0: off, the bot's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=200)
    return parser.parse_args(argv)


def timed(function: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of `function`, after a few calls of warm-up."""
    for _ in range(10):
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    settings = Sampling(dry_multiplier=args.dry)
    print(
        f"vocabulary {args.vocab}, {args.seen} seen tokens a row, DRY {args.dry or 'off'}, "
        f"{args.threads} threads, median of {args.repeats}"
    )
    ours = args.dry == 0 and kernels.available()
    kernel_columns = "  kernel ms  ratio  same tokens" if ours else ""
    print(f"rows  torch: draw ms  log-probs ms{kernel_columns}")
    with torch.inference_mode():
        for rows in args.rows:
            table = SamplingTable.of([settings] * rows, list(range(rows)), cpu)
            logits = torch.randn(rows, args.vocab, generator=gen) * 3
            penalised = torch.zeros(rows, args.vocab, dtype=torch.bool)
            for row in range(rows):
                penalised[row, torch.randperm(args.vocab, generator=gen)[: args.seen]] = True
            exempt = None
            if args.dry > 0:
                exempt = Marks.none(args.vocab, cpu, stop_token_ids=[]).exempt
                table.history[:] = torch.randint(0, args.seen, table.history.shape, generator=gen)
                table.matches[:] = torch.randint(0, 5, table.matches.shape, generator=gen)
            candidates = candidates_for([settings], args.vocab)
            draw_once = partial(sample, logits, penalised, table, candidates, exempt)
            tokens = draw_once()
            draw = timed(draw_once, args.repeats)
            logprobs = timed(partial(token_logprobs, logits, tokens), args.repeats)
            line = f"{rows:4d}  {draw:14.3f}  {logprobs:12.3f}"
            if ours:
                call = partial(kernels.sample, logits, penalised, table.drawing(), candidates)
                kernel = timed(call, args.repeats)
                same = int((call()[0] == tokens).sum())
                ratio = kernel / (draw + logprobs)
                line += f"  {kernel:9.3f}  {ratio:5.3f}  {same:5d} of {rows}"
            print(line)


if __name__ == "__main__":
    main()
