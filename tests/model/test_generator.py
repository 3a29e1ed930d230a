"""Takes end to end: prompt, queue, parse, regenerate. The tiny random model writes gibberish
(so every take is malformed and sampled again); the real default model writes a dialogue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from model.generator import (
    GenerationSettings,
    Generator,
    LocalBackend,
    chat_prompt_ids,
    open_generator,
)
from model.loading import SHIPPED_ADAPTER, ModelSettings
from model.queue import GenerationQueue, QueueSettings
from model.tasks import (
    CharacterSheet,
    Progress,
    PromptContext,
    Sampling,
    TaskKind,
    TaskRequest,
)
from model.worker import Enough
from screenplay.repair import repair
from screenplay.types import Character, Dialogue


@pytest.fixture
async def tiny_generator(tiny_model: Any, tokenizer: Any) -> AsyncIterator[Generator]:
    queue = GenerationQueue(tiny_model, tokenizer, QueueSettings(), stop_token_ids=())
    await queue.start()
    generator = Generator(LocalBackend(queue, "tiny-llama"))
    yield generator
    await generator.close()


async def test_malformed_takes_are_sampled_again_then_marked(tiny_generator: Generator) -> None:
    # The name alone asked: the take is begun on its name's line (a role asked would begin the
    # description too, which gibberish would then fill).
    request = TaskRequest(TaskKind.CHARACTER, "Mara", ("MARA",))
    takes = await tiny_generator.generate(request, 3, Sampling(max_new_tokens=12), room_id=5)
    assert len(takes) == 3
    assert len({t.text for t in takes}) == 3  # three different takes, not one copied
    for take in takes:
        assert take.model == "tiny-llama"
        assert take.regenerated
        assert take.problems  # gibberish has no description: the room is told so
        assert take.sheet is not None and take.sheet.name == "MARA"
    assert tiny_generator.backend.queue.metrics().completed == 2  # the takes, then the retries


async def test_takes_report_progress_then_the_takes(tiny_generator: Generator) -> None:
    request = TaskRequest(TaskKind.BEAT, "a twist")
    updates: list[Progress] = []
    takes = await tiny_generator.generate(
        request, 2, Sampling(max_new_tokens=20, seed=1), on_progress=updates.append
    )
    assert len(updates) >= 3  # the place in line, partial text, the end; then the takes
    assert all(not u.done for u in updates[:-1]) and updates[-1].done and len(takes) == 2
    assert any(u.texts[0] for u in updates[:-1])  # partial text arrived before the end


async def test_a_begun_answer_is_carried_on_and_each_take_begins_with_it(
    tiny_generator: Generator, tokenizer: Any
) -> None:
    backend = tiny_generator.backend
    assert isinstance(backend, LocalBackend)
    asked = [{"role": "user", "content": "写唐小田和大刘的对白。"}]
    begun = [*asked, {"role": "assistant", "content": "唐小田："}]
    prompt = chat_prompt_ids(tokenizer, begun)
    assert tokenizer.decode(prompt).endswith("<|im_start|>assistant\n唐小田：")
    assert prompt[: len(chat_prompt_ids(tokenizer, asked))] == chat_prompt_ids(tokenizer, asked)
    read: list[str] = []

    def usable(text: str) -> bool:
        read.append(text)
        return True

    drawn = await backend.draw(
        begun,
        [Sampling(max_new_tokens=4, seed=1), Sampling(max_new_tokens=400, seed=2)],
        room_id=1,
        user_id=1,
        enough=Enough(1, usable),
    )
    assert all(take.text.startswith("唐小田：") for take in drawn)
    assert len(drawn[0].token_ids) == 4 and drawn[1].finish == "stopped"
    # The worker judged the first take as the room reads it: begun.
    assert read == [drawn[0].text]


@pytest.mark.parametrize(
    "start", ["INT. DINER - NIGHT\n\n", "内景 咖啡馆 夜\n", "唐小田：", "MARA\n", "Hello "]
)
def test_a_begun_answer_is_cut_into_tokens_as_it_is_mid_answer(tokenizer: Any, start: str) -> None:
    """The model carries on from the tokens it saw in training: a blank line at the end of a
    begun heading is two newline tokens, as before the next word, not the one token a blank
    line at the very end of a text is."""
    asked = [{"role": "user", "content": "Write the opening of this scene."}]
    begun = chat_prompt_ids(tokenizer, [*asked, {"role": "assistant", "content": start}])
    answered = chat_prompt_ids(tokenizer, asked) + list(
        tokenizer(start + "Rain on the windows.", add_special_tokens=False)["input_ids"]
    )
    if start.endswith(" "):  # the space goes with the word after it: cut as it stands
        assert tokenizer.decode(begun).endswith(start)
    else:
        assert answered[: len(begun)] == begun
    assert tokenizer.decode(begun[len(chat_prompt_ids(tokenizer, asked)) :]) == start


@pytest.mark.slow
async def test_the_default_model_writes_a_dialogue_the_screenplay_reader_parses() -> None:
    # The model the bot runs: the shipped model with its screenplay adapter. A generous deadline:
    # this CPU may be shared, and the test is about the text, not speed.
    settings = GenerationSettings(
        model=ModelSettings(adapter=str(SHIPPED_ADAPTER)), queue=QueueSettings(timeout_s=1800)
    )
    generator = await open_generator(settings)
    try:
        mara = CharacterSheet("MARA", role="diner cook", personality="dry, impatient")
        tom = CharacterSheet("TOM", role="fugitive", personality="nervous, charming")
        request = TaskRequest(
            TaskKind.DIALOGUE,
            "Tom asks Mara for a ride out of town before the police arrive.",
            ("MARA", "TOM"),
            PromptContext(title="Night Shift", characters=(mara, tom)),
        )
        takes = await generator.generate(
            request, 4, Sampling(max_new_tokens=96, temperature=0.7, seed=11), room_id=1
        )
    finally:
        await generator.close()
    assert [t.model for t in takes] == ["SmolLM2-135M-Instruct+screenplay-smollm2"] * 4
    parsed = [repair(t.fountain).elements for t in takes]
    speaking = [
        elements
        for elements in parsed
        if any(isinstance(e, Character) for e in elements)
        and any(isinstance(e, Dialogue) for e in elements)
    ]
    assert speaking, "\n\n".join(t.text for t in takes)


async def test_the_cast_names_of_a_script_take_are_spared_the_repetition_penalty(
    tiny_model: Any, tokenizer: Any
) -> None:
    queue = GenerationQueue(tiny_model, tokenizer, QueueSettings(), stop_token_ids=())
    admitted: list[Any] = []
    add = queue.engine.add
    queue.engine.add = lambda groups: admitted.extend(groups) or add(groups)  # type: ignore[method-assign]
    await queue.start()
    generator = Generator(LocalBackend(queue, "tiny-llama"))
    try:
        request = TaskRequest(TaskKind.DIALOGUE, "they argue", ("MARA", "Tom"))
        await generator.generate(request, 1, Sampling(max_new_tokens=4, seed=1))
        premise = TaskRequest(TaskKind.PREMISE, "a heist at a wedding")
        await generator.generate(premise, 1, Sampling(max_new_tokens=4, seed=1))
    finally:
        await generator.close()
    # A script take spares a character's pieces too; a premise, whose line breaks the penalty
    # then singles out (it ran on in one line), keeps the plain penalty (`Sampling.spare_pieces`).
    assert admitted[0].sampling[0].spare_pieces
    assert not admitted[-1].sampling[0].spare_pieces
    spared = admitted[0].unpenalised
    # The cast's names, and the words of a scene heading: every prompt shows the answer's shape
    # `INT. DINER - NIGHT`, and penalised, INT was what takes were pushed off (EXT. CLASSROOM).
    for word in ("MARA", "TOM", " Tom", "Mara", "INT", "EXT", " NIGHT", " DAY", "内景"):
        assert set(tokenizer(word, add_special_tokens=False)["input_ids"]) <= spared, word
    assert not {tokenizer.convert_tokens_to_ids(t) for t in ("Ċ", "ĊĊ", "Ġ")} & spared
    assert admitted[0].sampling[0].keep_words[:2] == ("MARA", "Tom")
    assert not admitted[-1].unpenalised  # a premise spares nothing


@pytest.mark.parametrize(("language", "label"), [("English", "Title:"), ("Chinese", "片名：")])
async def test_a_premise_take_is_begun_on_its_title_label(
    tiny_generator: Generator, tokenizer: Any, language: str, label: str
) -> None:
    """The local model carries a premise on from its title's label, as the corpus's premises
    open, and the room reads each take with the label it was begun with."""
    request = TaskRequest(
        TaskKind.PREMISE, "a heist at a wedding", context=PromptContext(language=language)
    )
    queue = tiny_generator.backend.queue
    asked: list[Any] = []
    enqueue = queue.enqueue
    queue.enqueue = lambda prompt, *a, **k: asked.append(prompt) or enqueue(prompt, *a, **k)  # type: ignore[method-assign]
    updates: list[Progress] = []
    takes = await tiny_generator.generate(
        request, 2, Sampling(max_new_tokens=40, seed=3), on_progress=updates.append
    )
    assert tokenizer.decode(asked[0]).endswith(f"<|im_start|>assistant\n{label}")
    assert all(take.text.startswith(label) for take in takes)
    # The writer watching sees each partial take as it will read, label first.
    partial = [text for update in updates for text in update.texts if text]
    assert partial and all(text.startswith(label) for text in partial)
