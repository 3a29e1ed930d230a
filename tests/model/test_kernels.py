"""`model.kernels`: the kernels of our own for a decode step on a CPU with AVX-512 VNNI. The int8
products must be what rounding the activations to int8 in blocks of 32 gives (an emulation in
torch, to float32's rounding of the sums), at every row count the engine sends (one take to a
room's many), the RMSNorm inside them Llama's; attention over a float16 cache must be torch's in
float32, each row at its own length and a shared prompt read in one row; a decode step's layers
in one call must be the step run layer by layer; and the bot must fall back to torch's operators,
saying why, where the kernels cannot be built or run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from model import kernels, quant

needs_vnni = pytest.mark.skipif(
    not kernels.cpu_has_flags(),
    reason="this CPU lacks AVX-512 VNNI, which the kernel is built for",
)


@pytest.fixture(autouse=True)
def fresh_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test builds (or finds) the kernel under its own cache folder and environment."""
    monkeypatch.setenv("WRITERS_ROOM_CACHE", str(tmp_path))
    kernels.reset()
    yield
    kernels.reset()


def emulated(x: torch.Tensor, values: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """The kernel's arithmetic in torch: activations rounded (half to even) to int8 in blocks
    of 32 with the scale amax/127, exact integer sums, float64 from there."""
    rows, width = x.shape
    blocks = x.double().view(rows, width // 32, 32)
    peak = blocks.abs().amax(-1, keepdim=True).float()  # the kernel's float32 arithmetic
    inverse = torch.where(peak > 0, 127.0 / peak, torch.zeros_like(peak))
    q = torch.round(blocks.float() * inverse).clamp(-127, 127)
    sums = torch.einsum("rbk,nbk->rnb", q.double(), values.double().view(-1, width // 32, 32))
    return (sums * (peak.double() / 127).squeeze(-1)[:, None, :]).sum(-1) * scales.double()


@needs_vnni
@pytest.mark.parametrize("width", [64, 576, 1536])
@pytest.mark.parametrize(
    ("rows", "outputs"), [(1, 96), (2, 16), (3, 80), (4, 96), (8, 272), (17, 96)]
)
def test_the_product_is_the_blockwise_rounded_one(width: int, rows: int, outputs: int) -> None:
    """Row counts on both sides of the kernel's block of 3 rows, and output counts that leave
    each thread's run of tiles of 16 short of a block of 4 (one tile, five, seventeen); widths
    of the shipped model."""
    torch.manual_seed(width + rows)
    weight = torch.randn(outputs, width) * torch.linspace(0.01, 1, outputs)[:, None]
    int8 = quant.Int8Weight.of(weight)
    x = torch.randn(rows, width) * 3
    x[0, :40] *= 50  # an outlier block, and one that straddles two
    assert int8.q8_scales is not None  # the kernel serves this weight
    assert torch.equal(int8.rows(), quant.rounded(weight)[0])  # its order undone: the values
    got = int8(x)
    want = emulated(x, int8.rows(), int8.scales)
    assert got.dtype == torch.float32 and got.shape == (rows, outputs)
    torch.testing.assert_close(got.double(), want, rtol=2e-5, atol=2e-5 * float(want.abs().max()))
    exact = x.double() @ int8.dequantised().double().T
    # And near the exact product: int8 blocks lose about 0.5% (relative, in norm).
    assert float((got.double() - exact).norm() / exact.norm()) < 0.01


@needs_vnni
def test_zero_blocks_views_half_precision_and_one_or_two_threads_agree() -> None:
    torch.manual_seed(3)
    int8 = quant.Int8Weight.of(torch.randn(64, 128))
    x = torch.randn(4, 128)
    x[1] = 0  # every block's scale 0: no division by zero, a zero row out
    x[2, 64:] = 0
    want = emulated(x, int8.rows(), int8.scales).float()
    assert torch.equal(int8(x)[1], torch.zeros(64))
    torch.testing.assert_close(int8(x.t().contiguous().t()), int8(x), rtol=0, atol=0)
    half = x.half()
    torch.testing.assert_close(
        int8(half), emulated(half.float(), int8.rows(), int8.scales).float(), rtol=2e-5, atol=1e-4
    )
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = int8(x)
        torch.set_num_threads(2)
        two = int8(x)
    finally:
        torch.set_num_threads(threads)
    torch.testing.assert_close(one, two, rtol=0, atol=0)
    torch.testing.assert_close(one, want, rtol=2e-5, atol=1e-4)


@needs_vnni
def test_the_kernel_is_built_once_into_the_cache_and_found_there(tmp_path: Path) -> None:
    assert kernels.available()
    (built,) = (tmp_path / "kernels").glob("kernels-*.so")
    made = built.stat().st_mtime_ns
    kernels.reset()
    assert kernels.available() and built.stat().st_mtime_ns == made  # loaded, not rebuilt


@pytest.mark.parametrize(
    ("environment", "reason"),
    [
        ({kernels.ENV_SWITCH: "0"}, "WRITERS_ROOM_KERNELS=0"),
        ({"CC": "/nonexistent/cc"}, "no C compiler"),
        ({"CC": "false"}, "the C compiler does not run"),
    ],
)
def test_without_the_kernel_torchs_serves_and_the_reason_is_kept(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], reason: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    if not kernels.cpu_has_flags() and kernels.ENV_SWITCH not in environment:
        reason = "the CPU lacks AVX-512 VNNI"  # checked before the compiler
    assert not kernels.available() and reason in kernels.unavailable_reason
    torch.manual_seed(4)
    int8 = quant.Int8Weight.of(torch.randn(32, 64))
    assert int8.q8_scales is None and int8.rows_faster == 4
    x = torch.randn(2, 64)
    exact = x @ int8.dequantised().T
    assert float((int8(x) - exact).abs().max()) < 0.01 * float(exact.abs().max())


@needs_vnni
def test_a_failed_build_says_what_the_compiler_said(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.c"
    broken.write_text("this is not C\n")
    monkeypatch.setattr(kernels, "SOURCE", broken)
    assert not kernels.available() and kernels.unavailable_reason.startswith("the build failed")
    assert not list((tmp_path / "kernels").glob("*.so"))  # nothing half-written left


@needs_vnni
def test_widths_it_cannot_take_and_bf16_weights_keep_torchs_kernel() -> None:
    torch.manual_seed(5)
    narrow = quant.Int8Weight.of(torch.randn(32, 48))  # 48: not a multiple of 64
    few = quant.Int8Weight.of(torch.randn(40, 64))  # 40 outputs: not a multiple of 16
    bf16 = quant.Int8Weight.of(torch.randn(32, 64).bfloat16())  # a bf16 model's scales
    assert narrow.q8_scales is None and few.q8_scales is None and bf16.q8_scales is None
    assert few.values.shape == (40, 64)  # torch's kernel reads the rows as they are
    assert quant.Int8Weight.of(torch.randn(32, 64)).q8_scales is not None


@needs_vnni
@pytest.mark.parametrize("rows", [1, 4, 11])
def test_the_rms_norm_inside_the_kernel_is_llamas(rows: int) -> None:
    """The RMSNorm before q/k/v and gate/up, computed as the kernel reads its input, is the
    float32 one Llama runs (within float32's rounding: a value near a rounding boundary of the
    int8 blocks may round the other way, so the products agree to far below that rounding)."""
    torch.manual_seed(6 + rows)
    int8 = quant.Int8Weight.of(torch.randn(80, 576) * 0.05)
    x = torch.randn(rows, 576) * 4
    x[:, 7] = 300  # an outlier channel, as Llama's residual stream has
    norm = torch.rand(576) * 2
    normed = torch.nn.functional.rms_norm(x, (576,), norm, 1e-5)
    got = int8.normed(x, norm, 1e-5)
    want = emulated(normed, int8.rows(), int8.scales)
    assert float((got.double() - want).norm() / want.norm()) < 1e-4
    exact = normed.double() @ int8.dequantised().double().T
    # The outlier's block of 32 is rounded in steps of its size: about 1% in all, not 0.5%.
    assert float((got.double() - exact).norm() / exact.norm()) < 0.02
    assert not torch.allclose(got, int8(x), rtol=0.1)  # the norm did run


@needs_vnni
@pytest.mark.parametrize(("rows", "columns"), [(1, 1), (1, 17), (1, 450), (3, 130), (2, 2049)])
def test_attention_over_a_float16_cache_is_torchs_in_float32(rows: int, columns: int) -> None:
    """One new token per row, three query heads per key/value head, over a cache's views (its
    columns a slice of a longer buffer): what torch's attention gives in float32 on the same
    float16 keys and values, to float32's rounding."""
    torch.manual_seed(rows * 1000 + columns)
    heads, groups, dim = 3, 3, 64
    keys = torch.randn(rows, heads, columns + 40, dim).half()[:, :, :columns]
    values = torch.randn(rows, heads, columns + 40, dim).half()[:, :, :columns]
    q = torch.randn(rows, heads, groups, dim) * 3  # sharp: a few columns dominate
    assert kernels.attends(q, keys)
    got = kernels.attend(q, keys, values, dim**-0.5)
    want = torch.nn.functional.scaled_dot_product_attention(
        q, keys.float(), values.float(), scale=dim**-0.5
    )
    assert got.dtype == torch.float32 and got.shape == (rows, heads, groups, dim)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=2e-6)


def reference_attention(
    q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, layout: kernels.Layout
) -> torch.Tensor:
    """What a layout means, spelled out in torch (float32): row b attends its first columns[b]
    columns, the first shared[b] of them as row source[b] holds them."""
    rows = q.shape[0]
    out = torch.empty(q.shape)
    for b in range(rows):
        width = keys.shape[2] if layout.columns is None else int(layout.columns[b])
        k, v = keys[b, :, :width].float().clone(), values[b, :, :width].float().clone()
        if layout.source is not None and layout.shared is not None:
            common, source = min(int(layout.shared[b]), width), int(layout.source[b])
            k[:, :common] = keys[source, :, :common].float()
            v[:, :common] = values[source, :, :common].float()
        out[b] = torch.nn.functional.scaled_dot_product_attention(
            q[b], k, v, scale=q.shape[-1] ** -0.5
        )
    return out


@needs_vnni
@pytest.mark.parametrize(
    ("groups", "dim"),
    [(3, 64), (4, 128), (1, 48), (16, 256)],  # SmolLM2, Llama-3-like, and the generic loops
)
def test_attention_reads_each_rows_length_and_a_shared_prompt_in_one_row(
    groups: int, dim: int
) -> None:
    """Rows of three requests in one step: each attends its own number of columns (no mask),
    and the takes of a request read their shared prompt in one row. The rows' own copies of the
    prompt are made different here, so reading them instead would show."""
    torch.manual_seed(groups * 100 + dim)
    rows, heads, width = 7, 2, 61
    keys = torch.randn(rows, heads, width + 5, dim).half()[:, :, :width]
    values = torch.randn(rows, heads, width + 5, dim).half()[:, :, :width]
    q = torch.randn(rows, heads, groups, dim) * 2
    layout = kernels.Layout.of(
        [60, 60, 60, 33, 33, 8, 40],  # columns before the step: the step sees one more
        [(0, 21), (0, 21), (0, 21), (1, 30), (1, 30), (2, 8), (3, 40)],
    )
    assert layout.columns is not None and layout.columns.tolist() == [61, 61, 61, 34, 34, 9, 41]
    assert layout.source is not None and layout.source.tolist() == [0, 0, 0, 3, 3, 5, 6]
    assert kernels.attends(q, keys)
    got = kernels.attend(q, keys, values, dim**-0.5, layout)
    torch.testing.assert_close(
        got, reference_attention(q, keys, values, layout), rtol=1e-5, atol=2e-6
    )
    own = kernels.Layout(layout.columns)  # the same lengths, each row read in itself
    assert not torch.allclose(kernels.attend(q, keys, values, dim**-0.5, own), got, atol=1e-3)


@needs_vnni
def test_attention_clamps_a_layout_out_of_range_to_the_rows_and_columns_given() -> None:
    """A layout past the step's columns, or naming a row that is not there, reads nothing
    outside what it was given: columns clamp to the step's, an unknown source row to the row
    itself."""
    keys = torch.randn(2, 3, 10, 64).half()
    values = torch.randn(2, 3, 10, 64).half()
    q = torch.randn(2, 3, 3, 64)
    wild = kernels.Layout(
        torch.tensor([50, 0], dtype=torch.int32),
        torch.tensor([7, -1], dtype=torch.int32),
        torch.tensor([99, 4], dtype=torch.int32),
    )
    got = kernels.attend(q, keys, values, 0.125, wild)
    torch.testing.assert_close(got, kernels.attend(q, keys, values, 0.125), rtol=1e-6, atol=1e-7)


@needs_vnni
def test_attention_takes_only_what_it_was_written_for() -> None:
    q = torch.randn(1, 3, 3, 64)
    cache = torch.randn(1, 3, 20, 64).half()
    assert kernels.attends(q, cache)
    assert not kernels.attends(q, cache.float())  # a float32 cache: torch's
    assert not kernels.attends(torch.randn(1, 3, 3, 40), torch.randn(1, 3, 20, 40).half())
    assert not kernels.attends(q, cache.transpose(2, 3).contiguous().transpose(2, 3))
    assert not kernels.attends(torch.randn(1, 3, 17, 64), cache)  # 17 query heads a group


@needs_vnni
def test_a_decode_step_attends_in_our_kernel_and_stays_close_to_torchs(
    tiny_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path's one-row decode steps over a float16 cache go through `kernels.attend`
    (and a prefill, or a float32 cache, through torch's); the logits stay within float16's
    rounding of torch's attention."""
    from model.fastpath import FastLlama

    calls: list[int] = []
    real = kernels.attend

    def counted(*args: Any) -> torch.Tensor:
        calls.append(args[0].shape[0])
        return real(*args)

    ours = FastLlama(tiny_model, quantize="off", kv_cache="float16")
    prompt = torch.tensor([[5, 17, 300, 41, 900, 12, 33]])
    logits = []
    for use_ours in (True, False):
        monkeypatch.setattr(kernels, "attend", counted if use_ours else _refuse)
        if not use_ours:
            monkeypatch.setattr(kernels, "attends", lambda q, keys: False)
        cache = ours.new_cache(1, 16)
        ids, positions, seen = prompt, torch.arange(7)[None], []
        with torch.inference_mode():
            for _ in range(4):
                out = ours.forward(ids, positions, cache)
                seen.append(out)
                ids, positions = out.argmax(-1)[:, None], positions[:, -1:] + 1
        logits.append(torch.stack(seen))
    assert len(calls) == 3 * len(ours.layers)  # three decode steps, every layer; no prefill
    torch.testing.assert_close(logits[0], logits[1], rtol=1e-3, atol=1e-3)


@needs_vnni
def test_takes_of_several_requests_decode_as_with_torchs_attention(tiny_model: Any) -> None:
    """Two requests' takes in one engine, their prompts of different lengths (rows that need a
    mask in torch's attention; ours reads each row's own length instead), the second request
    joining later: every take draws the tokens it draws with torch's attention."""
    from model.batch import PromptGroup
    from model.slots import SlotEngine
    from model.tasks import Sampling

    def run() -> dict[int, list[int]]:
        engine = SlotEngine(tiny_model, stop_token_ids=(), max_batch=8)
        takes = tuple(Sampling(temperature=0.8, max_new_tokens=12, seed=s) for s in range(3))
        events = engine.add([PromptGroup(tuple(range(100, 137)), (0, 1, 2), takes)])
        for _ in range(3):
            events += engine.step()
        events += engine.add([PromptGroup(tuple(range(300, 323)), (3, 4), takes[:2])])
        while engine.active:
            events += engine.step()
        got: dict[int, list[int]] = {}
        for event in events:
            if event.token_id is not None:
                got.setdefault(event.seq_id, []).append(event.token_id)
        return got

    calls: list[kernels.Layout] = []
    real = kernels.attend

    def counted(*args: Any) -> torch.Tensor:
        calls.append(args[4])
        return real(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernels, "attend", counted)
        ours = run()
    with kernels.switched_off():
        theirs = run()
    assert any(layout.columns is not None for layout in calls)  # unaligned rows, in ours
    assert ours == theirs and len(ours) == 5


def stepped_logits(model: Any, one_call: bool, rows_limit: int | None = None) -> list[torch.Tensor]:
    """The logits of every decode step of two requests in one engine (different prompt
    lengths, the second joining later, three and two takes sharing their prompts), run by
    `kernels.Stack` or layer by layer."""
    from model import fastpath
    from model.batch import PromptGroup
    from model.slots import SlotEngine
    from model.tasks import Sampling

    engine = SlotEngine(model, stop_token_ids=(), max_batch=8)
    if rows_limit is not None:
        engine.fast.set_int8_rows(rows_limit)
    if not one_call:
        engine.fast._stack_for = lambda rows: None  # type: ignore[method-assign]
    seen: list[torch.Tensor] = []
    forward = engine.fast.forward

    def kept(*args: Any, **kwargs: Any) -> torch.Tensor:
        logits = forward(*args, **kwargs)
        if args[0].shape[1] == 1:
            seen.append(logits.clone())
        return logits

    engine.fast.forward = kept  # type: ignore[method-assign]
    takes = tuple(Sampling(temperature=0.8, max_new_tokens=10, seed=s) for s in range(3))
    assert isinstance(engine.fast, fastpath.FastLlama)
    with torch.inference_mode():
        engine.add([PromptGroup(tuple(range(100, 141)), (0, 1, 2), takes)])
        for _ in range(3):
            engine.step()
        engine.add([PromptGroup(tuple(range(300, 317)), (3, 4), takes[:2])])
        while engine.active:
            engine.step()
    return seen


@pytest.fixture(scope="module")
def wide_model() -> Any:
    """A two-layer Llama of widths our products take (multiples of 64), heads of 32 values."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(3)
    config = LlamaConfig(
        vocab_size=1000,
        hidden_size=192,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=6,
        num_key_value_heads=2,
        max_position_embeddings=1024,
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture
def stack_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rows of each `kernels.Stack.run` call (the decode step in one call) while a test runs."""
    calls: list[int] = []
    real = kernels.Stack.run

    def counted(self: kernels.Stack, hidden: torch.Tensor, *args: Any) -> torch.Tensor:
        calls.append(hidden.shape[0])
        return real(self, hidden, *args)

    monkeypatch.setattr(kernels.Stack, "run", counted)
    return calls


@needs_vnni
def test_a_decode_step_in_one_call_is_the_step_layer_by_layer(
    wide_model: Any, stack_calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kernels.Stack` runs every layer of a decode step in one call of ours (products, rotary
    embedding, the cache's writes, attention as the layout says, silu, residuals): the logits of
    every step stay those of the step run operator by operator, to float32's rounding, over rows
    of two requests that join at different times."""
    monkeypatch.setenv(quant.ENV_SWITCH, "int8")  # the tests' engines run float32 otherwise
    ours = stepped_logits(wide_model, one_call=True)
    assert set(stack_calls) == {3, 5, 2}  # one request, then both, then the second's last takes
    stack_calls.clear()
    theirs = stepped_logits(wide_model, one_call=False)
    assert not stack_calls and len(ours) == len(theirs) == 12
    for mine, reference in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-4)


@needs_vnni
def test_the_one_call_step_stands_aside_where_it_does_not_serve(
    wide_model: Any, tiny_model: Any, stack_calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows past those our int8 products serve, a model without int8 copies, or the kernels
    switched off: the step runs layer by layer."""
    monkeypatch.setenv(quant.ENV_SWITCH, "int8")
    stepped_logits(wide_model, one_call=True, rows_limit=4)
    assert set(stack_calls) == {3, 2}  # five rows ran layer by layer
    stack_calls.clear()
    stepped_logits(tiny_model, one_call=True)  # widths of 64: its products are ours too
    assert set(stack_calls) == {3, 5, 2}
    stack_calls.clear()
    monkeypatch.setenv(quant.ENV_SWITCH, "off")
    stepped_logits(wide_model, one_call=True)
    assert not stack_calls
    monkeypatch.setenv(quant.ENV_SWITCH, "int8")
    with kernels.switched_off():
        stepped_logits(wide_model, one_call=True)
    assert not stack_calls


@needs_vnni
def test_the_one_call_step_refuses_a_column_outside_the_step_and_writes_nothing(
    wide_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row whose new column lies past the step's columns is refused before any write: the
    cache and the hidden states stay as they were."""
    from model.fastpath import FastLlama

    monkeypatch.setenv(quant.ENV_SWITCH, "int8")
    fast = FastLlama(wide_model, kv_cache="float16")
    stack = fast._stack_for(2)
    assert stack is not None
    shape = (2, fast.kv_heads, 12, fast.head_dim)
    keys = [torch.zeros(shape, dtype=torch.float16) for _ in fast.layers]
    values = [torch.zeros(shape, dtype=torch.float16) for _ in fast.layers]
    hidden = torch.randn(2, wide_model.config.hidden_size)
    before = hidden.clone()
    trig = torch.zeros(2, fast.head_dim)
    layout = kernels.Layout(torch.tensor([5, 11], dtype=torch.int32))  # row 1 writes column 10
    with pytest.raises(ValueError, match="outside"):
        stack.run(hidden, trig, trig, keys, values, 8, layout, 0.1)
    assert torch.equal(hidden, before)
    assert not any(k.any() or v.any() for k, v in zip(keys, values, strict=True))
    stack.run(hidden, trig, trig, keys, values, 12, layout, 0.1)  # inside: written
    assert values[0][1, :, 10].any() and not values[0][1, :, 11].any()  # keys: sin = cos = 0


def _refuse(*args: Any) -> torch.Tensor:
    raise AssertionError("torch's attention was to serve")


@needs_vnni
def test_a_cache_folder_it_cannot_write_leaves_torchs_kernel_serving(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The model must still load where the kernels' folder cannot be made: a file stands where
    the folder should be."""
    (tmp_path / "kernels").write_text("not a folder")
    assert not kernels.available()
    assert "cannot be built or loaded" in kernels.unavailable_reason
    assert quant.Int8Weight.of(torch.randn(32, 64)).q8_scales is None
