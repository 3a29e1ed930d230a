"""A model is asked in the prompt format it learned: an adapter trained before the Chinese
prompts (no `prompt_format` recorded beside it, as the shipped one) gets English instructions
in a Chinese room; one trained since, or no adapter, gets the Chinese prompts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from model.generator import Generator
from model.loading import SHIPPED_ADAPTER, adapter_prompt_format
from model.prompts import PROMPT_FORMAT
from model.tasks import ProgressCallback, PromptContext, Sampling, TaskKind, TaskRequest


def test_the_prompt_format_is_read_from_beside_the_adapter(tmp_path: Path) -> None:
    assert adapter_prompt_format("") == PROMPT_FORMAT
    assert adapter_prompt_format(str(tmp_path)) == PROMPT_FORMAT  # trained elsewhere
    (tmp_path / "training_config.json").write_text(json.dumps({"lora_r": 16}))
    assert adapter_prompt_format(str(tmp_path)) == 1  # trained before formats were recorded
    (tmp_path / "training_config.json").write_text(json.dumps({"prompt_format": 2}))
    assert adapter_prompt_format(str(tmp_path)) == 2
    (tmp_path / "training_config.json").write_text("{not json")
    assert adapter_prompt_format(str(tmp_path)) == PROMPT_FORMAT
    config = json.loads((SHIPPED_ADAPTER / "training_config.json").read_text())
    assert adapter_prompt_format(str(SHIPPED_ADAPTER)) == config.get("prompt_format", 1)


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def complete(
        self,
        messages: list[dict[str, str]],
        sampling: Sequence[Sampling],
        *,
        room_id: int,
        user_id: int,
        on_progress: ProgressCallback | None = None,
    ) -> list[str]:
        self.asked.append(messages[0]["content"])
        return ["片名：茶\n梗概：一个老人守着茶馆。"] * len(sampling)

    async def close(self) -> None:
        return None


async def test_the_generator_asks_in_its_models_prompt_format() -> None:
    request = TaskRequest(TaskKind.PREMISE, "茶馆", context=PromptContext(language="中文"))
    for prompt_format, expected in ((1, "screenwriter"), (2, "编剧")):
        backend = Recording()
        generator = Generator(backend, prompt_format=prompt_format)
        (take,) = await generator.generate(request, 1, Sampling(seed=1))
        assert expected in backend.asked[0]
        assert take.title == "茶" and take.problems == ()
