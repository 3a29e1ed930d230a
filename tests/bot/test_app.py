"""The assembled application: settings in, store + model + room service out, and a clean stop.

The local backend is exercised for real, on the model tests' tiny random Llama saved as a model
directory (so `MODEL=<dir>` loads it through `model.loading` like any Hugging Face model); its
takes are noise, but they travel through the real queue, worker thread and generator.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import re
from pathlib import Path
from typing import Any

import pytest

from bot.app import SeededGenerator, open_app
from bot.domain import ProposalStatus
from bot.room import RoomService
from bot.settings import Settings, SettingsError, load_settings
from bot.store import Store
from model.errors import QueueClosed
from model.loading import ModelLoadError
from model.tasks import Sampling, TaskKind, TaskRequest
from tests.fakes import FakeGenerator
from tests.model.conftest import tiny_model, tokenizer

__all__ = ["tiny_model", "tiny_model_dir", "tokenizer"]  # fixtures, also used by test_console

ROOM, ANA = 5, 11


@pytest.fixture(scope="session")
def tiny_model_dir(
    tiny_model: Any, tokenizer: Any, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny random Llama and the default tokenizer as a model directory."""
    path = tmp_path_factory.mktemp("tiny-llama")
    tiny_model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def tiny_settings(tiny_model_dir: Path, tmp_path: Path) -> Settings:
    return Settings(database=tmp_path / "data" / "room.db", model=str(tiny_model_dir))


async def _short_takes(rooms: RoomService) -> None:
    await rooms.update_settings(ROOM, ANA, takes_per_request=2, length=16)


async def test_local_backend_writes_takes_and_reports_its_queue(tiny_settings: Settings) -> None:
    async with open_app(tiny_settings) as app:
        assert app.queue is not None
        assert tiny_settings.database.is_file()  # the directory was created, migrations ran
        await _short_takes(app.rooms)
        seen = []
        proposal = await app.rooms.ask(
            ROOM, ANA, "dialogue", "Mara argues with Tom", ["MARA", "TOM"], progress=seen.append
        )
        assert proposal.status is ProposalStatus.OPEN
        assert app.model_name.startswith("tiny-llama")
        assert [t.model for t in proposal.takes] == [app.model_name] * 2
        assert seen and seen[-1].tokens > 0  # progress reached the caller
        status = app.status()
        assert app.model_name in status and "in this process on cpu" in status
        assert "built-in model" not in status  # a model of the settings' own, not the small one
        served = re.search(r"(\d+) (requests?) served", status)
        assert served and int(served[1]) > 0
        assert (served[2] == "request") == (served[1] == "1")  # "1 request", "2 requests"
    with pytest.raises(QueueClosed):
        app.queue.enqueue([1, 2, 3], [Sampling(max_new_tokens=4)])


async def test_closing_drains_the_queue_and_stores_takes_still_in_flight(
    tiny_settings: Settings,
) -> None:
    async with open_app(tiny_settings) as app:
        await _short_takes(app.rooms)
        proposal = await app.rooms.propose(ROOM, ANA, "scene", "Fog over the harbour")
        app.in_background(app.rooms.generate(ROOM, proposal.id), name="generate")
        await asyncio.sleep(0)  # the request is queued; the block ends before it is written
    async with await Store.open(tiny_settings.database) as store:
        stored = await RoomService(store).proposal(ROOM, proposal.id)
    assert stored.status is ProposalStatus.OPEN
    assert len(stored.takes) == 2


async def test_a_fixed_seed_gives_the_same_takes_again(tiny_settings: Settings) -> None:
    seeded = dataclasses.replace(tiny_settings, seed=1234)
    texts = []
    for run in range(2):
        run_settings = dataclasses.replace(
            seeded, database=tiny_settings.database.with_name(f"run{run}.db")
        )
        async with open_app(run_settings) as app:
            await _short_takes(app.rooms)
            proposal = await app.rooms.ask(ROOM, ANA, "scene", "Fog over the harbour")
            texts.append([t.text for t in proposal.takes])
    assert texts[0] == texts[1]
    assert texts[0][0] != texts[0][1]  # each take still has a seed of its own


async def test_seeded_requests_never_share_a_seed() -> None:
    recorder = FakeGenerator(name="recorder")
    seeded = SeededGenerator(recorder, 7)  # type: ignore[arg-type]
    for _ in range(3):
        await seeded.generate(
            TaskRequest(TaskKind.BEAT), 5, Sampling(seed=None), room_id=1, user_id=2
        )
    seen = [call.sampling.seed for call in recorder.calls]
    assert seen == [7, 7 + 10_007, 7 + 2 * 10_007]
    assert seeded.name == "recorder"


async def test_a_missing_model_is_one_sentence_and_leaves_no_database_open(
    tmp_path: Path,
) -> None:
    settings = Settings(database=tmp_path / "room.db", model=str(tmp_path / "no-such-model"))
    with pytest.raises(ModelLoadError, match="Cannot load the model"):
        async with open_app(settings):
            pass
    # The store was closed: another connection can take the write lock at once.
    async with await Store.open(settings.database) as store, store.write():
        pass


async def test_the_openai_backend_needs_a_model_name_and_then_names_its_server(
    tmp_path: Path,
) -> None:
    settings = Settings(database=tmp_path / "room.db", backend="openai")
    with pytest.raises(ModelLoadError, match="model name"):
        async with open_app(settings):
            pass
    remote = dataclasses.replace(
        settings, openai_model="screenwriter", openai_base_url="http://127.0.0.1:9/v1"
    )
    async with open_app(remote) as app:
        assert app.queue is None
        assert "screenwriter, on the server at http://127.0.0.1:9/v1" in app.status()


def test_seed_and_model_cache_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(None, {"SEED": "42", "MODEL_CACHE": "~/models"})
    assert settings.seed == 42
    assert settings.model_cache == str(Path.home() / "models")
    assert load_settings(None, {}).seed is None
    with pytest.raises(SettingsError, match="SEED must be a whole number"):
        load_settings(None, {"SEED": "-1"})


async def test_an_open_app_keeps_its_startup_objects_out_of_full_collections(
    tiny_settings: Settings,
) -> None:
    """Once the model is loaded, what startup made (torch, the model, the catalogues) is
    frozen: a full garbage collection, which runs on the event loop, no longer walks it."""
    gc.unfreeze()
    async with open_app(tiny_settings) as app:
        assert app.queue is not None
        assert gc.get_freeze_count() > 100_000  # torch and transformers alone hold more
        tracked = len(gc.get_objects())
        assert tracked < gc.get_freeze_count() / 10
