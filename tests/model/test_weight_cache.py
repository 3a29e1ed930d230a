"""The runtime weight cache: what the generation queue loads at start (`ModelSettings.for_queue`).

A warm load reads the cache and computes what the cold load (the Hugging Face model with its
adapter merged) computes; a cache whose source changed — the adapter's content, the dtype, the
fast path's layout — is never read; a damaged one is built again; and the light tokenizer the
cache keeps gives the Hugging Face tokenizer's ids and text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from model import fastpath, kernels, quant
from model.loading import (
    LoadedModel,
    ModelSettings,
    load_model,
    runtime_dir,
    runtime_key,
)
from model.prompts import build_messages
from model.tasks import CharacterSheet, PromptContext, TaskKind, TaskRequest
from model.tokenizer import LightTokenizer

PROMPT = [5, 17, 300, 41, 900, 12, 33]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, tiny_model: Any, tokenizer: Any) -> Path:
    directory = tmp_path_factory.mktemp("tiny")
    tiny_model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def save_adapter(model_dir: Path, target: Path, seed: int) -> Path:
    """A LoRA adapter with random weights (a fresh one is a no-op) saved in `target`."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    config = LoraConfig(
        r=4, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False
    )
    base = load_model(ModelSettings(model=str(model_dir), dtype="float32")).model
    get_peft_model(base, config).save_pretrained(target)
    return target


def last_logits(loaded: LoadedModel) -> torch.Tensor:
    """The fast path's logits of `PROMPT`, as the engine would compute them."""
    fast = fastpath.FastLlama(loaded.model)
    ids = torch.tensor([PROMPT])
    with torch.inference_mode():
        return fast.forward(ids, torch.arange(len(PROMPT))[None], fast.new_cache(1, len(PROMPT)))


def entries(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "runtime").iterdir() if not p.name.startswith("."))


def test_a_warm_load_computes_what_the_cold_load_does(
    saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every forward's cache in the model's dtype: compared with Hugging Face's to the bit.
    monkeypatch.setenv(fastpath.KV_CACHE_ENV, "model")
    adapter = save_adapter(saved, tmp_path / "lora", seed=1)
    settings = ModelSettings(
        model=str(saved), adapter=str(adapter), dtype="float32", cache_dir=str(tmp_path / "cache")
    )
    hugging_face = load_model(settings)  # the ordinary load: a Hugging Face model, merged
    cold = load_model(ModelSettings(**{**_fields(settings), "for_queue": True}))
    assert entries(tmp_path / "cache") == [runtime_dir(settings, runtime_key(settings) or {}).name]
    warm = load_model(ModelSettings(**{**_fields(settings), "for_queue": True}))

    assert isinstance(warm.model, fastpath.FastModel) and isinstance(warm.tokenizer, LightTokenizer)
    assert warm.name == cold.name == hugging_face.name == f"{saved.name}+lora"
    want = last_logits(hugging_face)
    torch.testing.assert_close(last_logits(cold), want, rtol=0, atol=0)
    torch.testing.assert_close(last_logits(warm), want, rtol=0, atol=0)
    with torch.inference_mode():  # and that is the Hugging Face forward's answer
        full = hugging_face.model(torch.tensor([PROMPT])).logits[:, -1]
    torch.testing.assert_close(last_logits(warm), full, rtol=1e-4, atol=1e-4)
    # What the queue reads of a model: its context, stop tokens and vocabulary.
    assert warm.model.config.max_position_embeddings == 2048
    assert (
        warm.model.generation_config.eos_token_id
        == hugging_face.model.generation_config.eos_token_id
    )
    assert warm.model.get_output_embeddings().weight.shape[0] == len(hugging_face.tokenizer)


def test_the_key_changes_with_the_adapter_the_dtype_and_the_layout(
    saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = save_adapter(saved, tmp_path / "first", seed=1)
    second = save_adapter(saved, tmp_path / "second", seed=2)
    base = ModelSettings(model=str(saved), adapter=str(first), dtype="float32", cache_dir="x")

    def key(**changes: Any) -> dict[str, Any] | None:
        return runtime_key(ModelSettings(**{**_fields(base), **changes}))

    assert key() == key()
    assert key(adapter=str(second)) != key()
    assert key(dtype="bfloat16") != key()
    assert key(adapter="") != key()
    unchanged = key()
    monkeypatch.setattr(fastpath, "LAYOUT_VERSION", fastpath.LAYOUT_VERSION + 1)
    assert key() != unchanged
    # A model id that is no local directory has no runtime cache: it loads as it always did.
    assert key(model="HuggingFaceTB/not-a-local-directory") is None


def test_an_adapter_changed_in_place_is_never_served_stale(saved: Path, tmp_path: Path) -> None:
    adapter = tmp_path / "lora"
    save_adapter(saved, adapter, seed=1)
    settings = ModelSettings(
        model=str(saved), adapter=str(adapter), dtype="float32", cache_dir=str(tmp_path / "cache")
    )
    queued = ModelSettings(**{**_fields(settings), "for_queue": True})
    before = last_logits(load_model(queued))
    old_entries = entries(tmp_path / "cache")

    save_adapter(saved, adapter, seed=2)  # retrained: same folder, same names, other weights
    after = last_logits(load_model(queued))
    torch.testing.assert_close(after, last_logits(load_model(settings)), rtol=0, atol=0)
    assert not torch.allclose(after, before)
    # The entry it replaced is gone (it could never be read again), the new one is there.
    new_entries = entries(tmp_path / "cache")
    assert len(new_entries) == 1 and new_entries != old_entries


def test_a_damaged_cache_is_built_again(saved: Path, tmp_path: Path) -> None:
    settings = ModelSettings(model=str(saved), dtype="float32", cache_dir=str(tmp_path / "c"))
    queued = ModelSettings(**{**_fields(settings), "for_queue": True})
    want = last_logits(load_model(queued))
    weights = runtime_dir(settings, runtime_key(settings) or {}) / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a disk that filled up, a killed copy
    again = load_model(queued)
    assert isinstance(again.model, fastpath.FastModel)
    torch.testing.assert_close(last_logits(again), want, rtol=0, atol=0)
    torch.testing.assert_close(last_logits(load_model(queued)), want, rtol=0, atol=0)


def test_entries_of_models_that_are_gone_are_removed(saved: Path, tmp_path: Path) -> None:
    import shutil

    cache = str(tmp_path / "cache")
    copy = Path(shutil.copytree(saved, tmp_path / "copy"))  # a test's temporary model, say
    load_model(ModelSettings(model=str(copy), dtype="float32", cache_dir=cache, for_queue=True))
    shared = Path(shutil.copytree(saved, tmp_path / "same-bytes"))
    load_model(ModelSettings(model=str(shared), dtype="float32", cache_dir=cache, for_queue=True))
    assert len(entries(tmp_path / "cache")) == 2  # other paths: other keys
    shutil.rmtree(copy)
    load_model(ModelSettings(model=str(saved), dtype="float32", cache_dir=cache, for_queue=True))
    names = entries(tmp_path / "cache")
    assert len(names) == 2 and not any(name.startswith("copy-") for name in names)


def test_without_the_fast_path_the_queue_gets_the_hugging_face_model(
    saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(fastpath.ENV_SWITCH, "0")
    loaded = load_model(ModelSettings(model=str(saved), cache_dir=str(tmp_path), for_queue=True))
    assert not isinstance(loaded.model, fastpath.FastModel)
    assert not (tmp_path / "runtime").exists()


def test_a_warm_start_imports_neither_transformers_nor_peft(saved: Path, tmp_path: Path) -> None:
    adapter = save_adapter(saved, tmp_path / "lora", seed=1)
    settings = dict(model=str(saved), adapter=str(adapter), cache_dir=str(tmp_path / "cache"))
    load_model(ModelSettings(**settings, for_queue=True))  # cold: builds the cache
    script = (
        "import sys, json\n"
        "from model.loading import ModelSettings, load_model\n"
        f"loaded = load_model(ModelSettings(**{settings!r}, for_queue=True))\n"
        "ids = loaded.tokenizer.apply_chat_template("
        "[{'role': 'user', 'content': 'Hi'}], add_generation_prompt=True)['input_ids']\n"
        "print(json.dumps([type(loaded.model).__name__, len(ids),"
        " sorted(m for m in ('transformers', 'peft') if m in sys.modules)]))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    kind, length, imported = json.loads(run.stdout.strip().splitlines()[-1])
    assert kind == "FastModel" and length > 3
    assert imported == []


def test_the_light_tokenizer_gives_the_hugging_face_ids_and_text(tokenizer: Any) -> None:
    light = LightTokenizer.of(tokenizer)
    assert light is not None
    mara = CharacterSheet("MARA", personality="dry, impatient; says «non» and 好的")
    context = PromptContext(title="Night Shift", characters=(mara,))
    request = TaskRequest(
        TaskKind.DIALOGUE, "Mara won't cross.\n\nTom 🎬 asks.", ("MARA",), context
    )
    messages = build_messages(request)
    want = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True
    )["input_ids"]
    got = light.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    assert got["input_ids"] == list(want)
    assert light.apply_chat_template(messages, tokenize=False) == tokenizer.apply_chat_template(
        messages, tokenize=False
    )
    ids = [*want, tokenizer.eos_token_id]
    for skip in (True, False):
        assert light.decode(ids, skip_special_tokens=skip) == tokenizer.decode(
            ids, skip_special_tokens=skip
        )
    assert light.decode([ids[3]]) == tokenizer.decode([ids[3]])
    text = "MARA\nWe cross at dawn — 渡し守."
    assert light(text, add_special_tokens=False)["input_ids"] == list(
        tokenizer(text, add_special_tokens=False)["input_ids"]
    )
    for token in ("<|im_end|>", "<|im_start|>", "<|eot_id|>"):
        assert light.convert_tokens_to_ids(token) == tokenizer.convert_tokens_to_ids(token)
    assert (light.eos_token_id, light.pad_token_id, light.unk_token_id) == (
        tokenizer.eos_token_id,
        tokenizer.pad_token_id,
        tokenizer.unk_token_id,
    )
    assert len(light) == len(tokenizer)


def test_a_template_the_light_tokenizer_cannot_follow_keeps_the_hugging_face_one(
    tokenizer: Any,
) -> None:
    import copy

    other = copy.deepcopy(tokenizer)
    # transformers' own `{% generation %}` tag (training's assistant masks) is not the light one's.
    other.chat_template = (
        "{% for m in messages %}{% generation %}{{ m['content'] }}{% endgeneration %}{% endfor %}"
    )
    assert LightTokenizer.of(other) is None


def _fields(settings: ModelSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}


def _resident_kb(path: Path) -> int:
    """Kilobytes of `path`'s mapped pages resident in this process (Linux's smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and ":" in head[3]:
            inside = len(head) > 5 and head[5] == str(path)
        elif inside and line.startswith("Rss:"):
            total += int(head[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="Linux shows resident pages")
def test_pages_handed_back_leave_memory_and_read_back_the_same(tmp_path: Path) -> None:
    """The packed copies replace the mapped weights: their pages go back to the kernel (the
    shipped model's warm start then holds some 550 MB less), and are read again if touched."""
    from safetensors.torch import load_file, save_file

    from model.loading import page_out

    file = tmp_path / "weights.safetensors"
    torch.manual_seed(0)
    save_file({"a": torch.randn(1024, 1024), "b": torch.randn(512, 1024)}, str(file))
    weights = load_file(str(file))
    want = {name: tensor.clone() for name, tensor in weights.items()}
    sum(float(t.sum()) for t in weights.values())  # every page read once
    before = _resident_kb(file.resolve())
    assert before >= 5_000  # 6 MB mapped and read
    page_out(list(weights.values()))
    assert _resident_kb(file.resolve()) < before / 10
    for name, tensor in weights.items():
        torch.testing.assert_close(tensor, want[name], rtol=0, atol=0)


@pytest.mark.parametrize("quantize", ["off", "fp16"])
def test_a_forward_built_from_weights_names_those_its_packed_copies_replace(
    tiny_model: Any, quantize: str
) -> None:
    weights = fastpath.fast_weights(tiny_model)
    shape = fastpath.Shape.of(tiny_model.config)
    spent: list[torch.Tensor] = []
    fast = fastpath.FastLlama.from_weights(
        weights, shape, prepack=True, quantize=quantize, spent=spent.extend
    )
    if quantize == "fp16" and quant.half_available():
        assert fast.quantize == "fp16" and fast.layers[0].down.half is not None
    ids = {t.data_ptr() for t in spent}
    for index, layer in enumerate(fast.layers):
        names = ("qkv", "o", "gate_up", "down")
        for name, linear in zip(names, layer.linears(), strict=True):
            # Handed back exactly when copied: a torch build that cannot pack reads the weight.
            replaced = linear.packed is not None or linear.half is not None
            assert (weights[f"layers.{index}.{name}"].data_ptr() in ids) == replaced
    assert weights["layers.0.ln_attn"].data_ptr() not in ids  # still read as it is
    if quantize == "off" and fastpath._can_prepack(fast.device, fast.dtype):
        assert fast.layers[0].qkv.packed is not None  # so the check above saw a packed weight


def _at_odd_offset(tensor: torch.Tensor) -> torch.Tensor:
    """`tensor`'s values at an address 24 bytes past a 64-byte boundary, as a weight cache's
    file maps some of them."""
    room = torch.zeros(tensor.numel() * tensor.element_size() + 64, dtype=torch.uint8)
    odd = room[24 : 24 + tensor.numel() * tensor.element_size()].view(tensor.dtype)
    odd = odd.view(tensor.shape)
    odd.copy_(tensor)
    return odd


@pytest.mark.parametrize("kernels_off", [True, False], ids=["torch's kernel", "as this CPU runs"])
def test_int8_copies_moved_to_aligned_places_hand_back_the_mapped_ones(
    tiny_model: Any, kernels_off: bool
) -> None:
    """An int8 weight mapped at an odd offset is copied where torch's kernel can read it
    (`quant.Int8Weight`), and every int8 weight our kernel serves (`model.kernels`, on a CPU
    with AVX-512 VNNI) is copied into the order it reads; the mapped pages are then handed back
    like a packed weight's, or the cache's int8 weights would sit in memory twice (the shipped
    model's are some 130 MB). Without VNNI both cases run torch's kernel."""
    if kernels_off:
        with kernels.switched_off():
            _check_int8_copies(tiny_model, own_kernel=False)
    else:
        kernels.reset()
        _check_int8_copies(tiny_model, own_kernel=kernels.available())


def _check_int8_copies(tiny_model: Any, own_kernel: bool) -> None:
    weights = fastpath.fast_weights(tiny_model)
    weights |= fastpath.int8_weights(weights)
    odd = {"layers.0.gate_up.int8", "lm_head.int8"}
    for name in odd:
        weights[name] = _at_odd_offset(weights[name])
    spent: list[torch.Tensor] = []
    fast = fastpath.FastLlama.from_weights(
        weights, fastpath.Shape.of(tiny_model.config), quantize="int8", spent=spent.extend
    )
    assert fast.quantize == "int8"
    ids = {t.data_ptr() for t in spent}
    # Aligned and in rows, torch's kernel reads it where it is mapped; ours reads a copy.
    assert (weights["layers.0.qkv.int8"].data_ptr() in ids) == own_kernel
    for name, linear in zip(sorted(odd), (fast.layers[0].gate_up, fast.lm_head), strict=True):
        assert isinstance(linear.int8, quant.Int8Weight)
        assert (linear.int8.q8_scales is not None) == own_kernel
        assert weights[name].data_ptr() in ids and linear.int8.values.data_ptr() % 64 == 0
        assert torch.equal(linear.int8.rows(), weights[name])
