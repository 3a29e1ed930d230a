"""The remote backend against a real OpenAI-compatible server on loopback: `transformers serve`
with a tiny random Llama saved from a config (and the default model's tokenizer)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model.errors import BackendError
from model.generator import GenerationSettings, open_generator
from model.remote import RemoteBackend
from model.tasks import Sampling, TaskKind, TaskRequest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Any, tokenizer: Any
) -> Iterator[tuple[str, str]]:
    model_dir = tmp_path_factory.mktemp("tiny-served")
    tiny_model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    port = free_port()
    serve = Path(sys.executable).with_name("transformers")
    process = subprocess.Popen(
        [
            *(str(serve), "serve", str(model_dir)),
            *("--host", "127.0.0.1", "--port", str(port), "--device", "cpu", "--dtype", "float32"),
        ],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    assert process.stderr is not None
                    pytest.fail(f"transformers serve did not start: {process.stderr.read()!r}")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1", str(model_dir)
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_takes_come_back_from_a_real_server(server: tuple[str, str]) -> None:
    url, model = server
    generator = await open_generator(
        GenerationSettings(backend="remote", remote_url=url, remote_model=model)
    )
    request = TaskRequest(TaskKind.DIALOGUE, "Tom asks for a ride", ("MARA", "TOM"))
    takes = await generator.generate(request, 3, Sampling(max_new_tokens=8), room_id=2)
    await generator.close()
    assert len(takes) == 3
    assert all(t.model == model for t in takes)
    # A random model writes no dialogue: every take was sampled again and is marked.
    assert all(t.regenerated and t.problems for t in takes)


async def test_an_unreachable_server_is_reported_in_words() -> None:
    backend = RemoteBackend(f"http://127.0.0.1:{free_port()}/v1", "any", timeout_s=5)
    with pytest.raises(BackendError) as error:
        await backend.complete(
            [{"role": "user", "content": "hi"}], [Sampling()], room_id=0, user_id=0
        )
    assert str(error.value) == (
        "The model server cannot be reached right now; please try again later."
    )
