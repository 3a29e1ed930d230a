"""The fine-tune on the model families a room with a GPU runs: Qwen2.5 and Llama 3 instruct
models, as tiny random models built from their configs (Qwen2Config, LlamaConfig) with a small
byte-level BPE trained on the corpus and each family's own chat template and special tokens — no
download. The templates are the text paths of the real ones (the tool-calling branches left out:
the bot sends no tools), rendering exactly what Qwen2.5-Instruct and Llama-3.1-Instruct render
for a system, a user and an assistant message."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from model.loading import ModelSettings, load_model
from model.tasks import TaskKind
from model.worker import stop_tokens
from training import finetune
from training.data import Example, build_splits
from training.finetune import IGNORE, PROJECTIONS, Config

#: Qwen2.5-Instruct's chat template without its tool branches (ChatML, a default system prompt).
QWEN25_TEMPLATE = r"""{%- if messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
{%- else %}
    {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""  # noqa: E501

#: Llama-3.1-Instruct's chat template without its tool branches (headers, <|eot_id|>, the
#: knowledge-cutoff lines of its system turn, contents trimmed).
LLAMA3_TEMPLATE = r"""{{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"""  # noqa: E501


@dataclass(frozen=True)
class Family:
    name: str
    template: str
    specials: tuple[str, ...]
    bos: str | None
    eos: str
    pad: str | None
    end_of_turn: str


QWEN = Family(
    "qwen2.5",
    QWEN25_TEMPLATE,
    ("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
    bos=None,
    eos="<|im_end|>",
    pad="<|endoftext|>",
    end_of_turn="<|im_end|>",
)
#: Meta-Llama-3-8B-Instruct as first published: its eos token is <|end_of_text|>, while an
#: assistant turn ends with <|eot_id|> (what the model must learn to write, and the engine and
#: vLLM stop on).
LLAMA3 = Family(
    "llama3",
    LLAMA3_TEMPLATE,
    (
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eot_id|>",
    ),
    bos="<|begin_of_text|>",
    eos="<|end_of_text|>",
    pad=None,
    end_of_turn="<|eot_id|>",
)


def _tokenizer(family: Family, corpus: Path) -> Any:
    """A byte-level BPE (any text encodes, CJK included) trained on the corpus folder, with the
    family's special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1200,
        special_tokens=list(family.specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train([str(p) for p in sorted(corpus.glob("*.fountain"))], trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=family.bos,
        eos_token=family.eos,
        pad_token=family.pad,
        chat_template=family.template,
    )


def _model(family: Family, tokenizer: Any) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    sizes: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "eos_token_id": tokenizer.convert_tokens_to_ids(family.end_of_turn),
        "bos_token_id": tokenizer.bos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    torch.manual_seed(0)
    if family is QWEN:
        return Qwen2ForCausalLM(Qwen2Config(**sizes, tie_word_embeddings=True))
    return LlamaForCausalLM(LlamaConfig(**sizes, rope_theta=500000.0, tie_word_embeddings=False))


@pytest.fixture(scope="module", params=[QWEN, LLAMA3], ids=lambda f: f.name)
def family_model(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    small_corpus: Path,
) -> tuple[Family, Path]:
    """A tiny random model of the family saved with its tokenizer, as a model directory."""
    family: Family = request.param
    tokenizer = _tokenizer(family, small_corpus)
    path = tmp_path_factory.mktemp(f"tiny-{family.name}")
    _model(family, tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return family, path


@pytest.fixture(scope="module")
def examples(small_corpus: Path) -> list[Example]:
    """A dialogue example in English and one in Chinese, short enough not to be cut."""
    train = build_splits(str(small_corpus)).train
    dialogue = [e for e in train if e.kind is TaskKind.DIALOGUE and len(e.answer) < 600]
    english = next(e for e in dialogue if not e.script.startswith("zh-"))
    chinese = next(e for e in dialogue if e.script.startswith("zh-"))
    return [english, chinese]


def _auto_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def test_the_loss_is_on_the_answer_and_the_end_of_turn_marker_alone(
    family_model: tuple[Family, Path], examples: list[Example]
) -> None:
    family, path = family_model
    tokenizer = _auto_tokenizer(path)
    assert finetune.end_of_turn(tokenizer) == family.end_of_turn
    for example in examples:
        ids, labels = finetune.encode(tokenizer, example, 4096)
        answer = [t for t, label in zip(ids, labels, strict=True) if label != IGNORE]
        prompt = ids[: len(ids) - len(answer)]
        assert labels[: len(prompt)] == [IGNORE] * len(prompt)
        assert labels[len(prompt) :] == answer
        assert tokenizer.decode(answer) == example.answer + family.end_of_turn
        assert answer[-1] == tokenizer.convert_tokens_to_ids(family.end_of_turn)
        # The prompt is exactly what the bot sends at inference (the template's generation
        # prompt), and prompt + answer exactly the family's rendering of the whole exchange.
        asked = tokenizer.apply_chat_template(
            example.messages, add_generation_prompt=True, tokenize=False
        )
        assert prompt == tokenizer(asked, add_special_tokens=False)["input_ids"]
        exchange = [*example.messages, {"role": "assistant", "content": example.answer}]
        rendered = tokenizer.apply_chat_template(exchange, tokenize=False)
        assert rendered.rstrip("\n") == tokenizer.decode(ids)


def test_the_shipped_model_still_ends_its_answers_with_im_end(tokenizer: Any) -> None:
    assert finetune.end_of_turn(tokenizer) == "<|im_end|>" == tokenizer.eos_token


def _cfg(path: Path, **changes: Any) -> Config:
    return Config(model=str(path), dtype="auto", lora_dropout=0.0, **changes)


def test_lora_goes_on_every_attention_and_mlp_projection(
    family_model: tuple[Family, Path],
) -> None:
    _, path = family_model
    model, _, _ = finetune.load_for_training(_cfg(path), "cpu")
    assert set(model.peft_config["default"].target_modules) == set(PROJECTIONS)
    adapted = [n for n, m in model.named_modules() if n.endswith(PROJECTIONS) and m.lora_A]
    assert len(adapted) == len(PROJECTIONS) * 2  # every projection of both layers
    assert all(p.dtype == torch.float32 for p in model.parameters())  # auto on a CPU


def test_other_architectures_get_every_linear_layer_or_the_named_ones() -> None:
    gpt2_like = torch.nn.ModuleDict(
        {"c_attn": torch.nn.Linear(4, 12), "c_fc": torch.nn.Linear(4, 4)}
    )
    assert finetune.lora_targets(gpt2_like) == "all-linear"
    assert finetune.lora_targets(gpt2_like, "c_attn, c_fc") == ["c_attn", "c_fc"]
    assert finetune.training_dtype("auto", "cpu") == "float32"
    assert finetune.training_dtype("bfloat16", "cpu") == "bfloat16"


def test_gradient_checkpointing_recomputes_each_layer_and_gives_the_same_gradients(
    family_model: tuple[Family, Path], examples: list[Example]
) -> None:
    _, path = family_model
    tokenizer = _auto_tokenizer(path)
    batch = finetune.collate([finetune.encode(tokenizer, e, 256) for e in examples], 0)
    grads, calls = [], []
    for checkpointing in (False, True):
        torch.manual_seed(0)  # the same LoRA initialisation both times
        model, _, _ = finetune.load_for_training(
            _cfg(path, gradient_checkpointing=checkpointing), "cpu"
        )
        runs: list[int] = []
        layer = model.base_model.model.model.layers[0].mlp
        # A pre-hook: the recomputation stops as soon as it has what the backward pass needs,
        # inside the layer's last module, before a hook at its end would run.
        layer.register_forward_pre_hook(lambda *_, runs=runs: runs.append(1))
        loss, _ = finetune.answer_loss(model, batch)
        loss.backward()
        calls.append(len(runs))
        grads.append({n: p.grad for n, p in model.named_parameters() if p.requires_grad})
    assert calls == [1, 2]  # the checkpointed layer ran again in the backward pass
    assert grads[0].keys() == grads[1].keys()
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, msg=name)


def _run_args(path: Path, corpus: Path, out: Path) -> list[str]:
    return [
        *("--model", str(path), "--data", str(corpus), "--out", str(out)),
        *("--batch-size", "4", "--max-len", "96", "--warmup-steps", "1", "--lr", "1e-2"),
        *("--eval-every", "3", "--max-steps", "3", "--gradient-checkpointing"),
    ]


def test_a_short_run_learns_and_its_adapter_loads_in_peft_and_in_the_bot(
    family_model: tuple[Family, Path],
    small_corpus: Path,
    examples: list[Example],
    tmp_path: Path,
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    _, path = family_model
    metrics = finetune.main(_run_args(path, small_corpus, tmp_path / "run"))
    assert metrics["steps"] == 3
    assert metrics["best_val_loss"] < metrics["base_val_loss"]
    assert metrics["config"]["gradient_checkpointing"] is True
    adapter = tmp_path / "run" / "adapter"
    saved = json.loads((adapter / "adapter_config.json").read_text())
    assert set(saved["target_modules"]) == set(PROJECTIONS)

    ids = torch.tensor([finetune.encode(_auto_tokenizer(path), examples[0], 64)[0]])
    base = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    with torch.no_grad():
        base_logits = base(ids).logits
        peft_logits = PeftModel.from_pretrained(base, str(adapter)).eval()(ids).logits
        bot = load_model(ModelSettings(model=str(path), adapter=str(adapter), dtype="float32"))
        bot_logits = bot.model(ids).logits
    assert not torch.allclose(peft_logits, base_logits, atol=1e-3)  # the adapter changed it
    torch.testing.assert_close(bot_logits, peft_logits, atol=1e-4, rtol=1e-4)  # merged at load
    assert bot.name == f"{path.name}+adapter"


def test_the_bots_queue_runs_the_adapted_model_with_the_familys_template(
    family_model: tuple[Family, Path],
    examples: list[Example],
    tmp_path: Path,
) -> None:
    from model import fastpath
    from model.tokenizer import LightTokenizer

    family, path = family_model
    # Any adapter of the right shape: the queue's path is what is checked here.
    model, tokenizer, _ = finetune.load_for_training(_cfg(path), "cpu")
    model.save_pretrained(tmp_path / "adapter")
    queue = load_model(
        ModelSettings(
            model=str(path),
            adapter=str(tmp_path / "adapter"),
            dtype="float32",
            device="cpu",
            cache_dir=str(tmp_path / "cache"),
            for_queue=True,
        )
    )
    assert isinstance(queue.model, fastpath.FastModel)
    assert isinstance(queue.tokenizer, LightTokenizer)
    messages = examples[1].messages
    assert queue.tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=False
    ) == tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    stop = queue.tokenizer.convert_tokens_to_ids(family.end_of_turn)
    assert stop in stop_tokens(queue.model, queue.tokenizer)
