"""The remote backend against a real OpenAI-compatible server on loopback: `transformers serve`
with a tiny random Llama saved from a config (and the default model's tokenizer), and a LoRA
adapter of it that the server serves under the adapter's own name, as vLLM serves one given with
`--lora-modules NAME=PATH`. A recording relay in front of the server keeps each request's body."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Served:
    url: str  # the relay's, ending in /v1
    model: str  # the base model's directory
    adapter: str  # the adapter's directory: the name the server serves it under
    bodies: list[dict[str, Any]]  # every request the relay passed on


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Any, tokenizer: Any
) -> Iterator[Served]:
    """`transformers serve` loading whichever model a request names (the base, or the adapter
    from its directory), behind a relay that records the requests."""
    model_dir = tmp_path_factory.mktemp("tiny-served")
    tiny_model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    adapter_dir = _adapter(tmp_path_factory.mktemp("screenplay"), tiny_model, model_dir)
    port = free_port()
    serve = Path(sys.executable).with_name("transformers")
    process = subprocess.Popen(
        [
            *(str(serve), "serve"),
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
        with _relay(f"http://127.0.0.1:{port}") as (relay_url, bodies):
            yield Served(relay_url, str(model_dir), str(adapter_dir), bodies)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _adapter(folder: Path, model: Any, base: Path) -> Path:
    """A LoRA adapter of `model`, saved as `training.finetune` saves one (with the tokenizer).
    `transformers serve` names a model by its directory and has no adapter option of its own; a
    directory that holds the base's config and weights with an adapter beside them loads as the
    base with the adapter on it, so the base's files are linked in."""
    import torch
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=4,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj"],
        base_model_name_or_path=str(base),
    )
    adapted = get_peft_model(model, lora)
    # Both matrices seeded: drawn from the global generator, the adapter depended on which tests
    # ran before, and some draws left the base's greedy answer unchanged.
    seeded = torch.Generator().manual_seed(1234)
    try:
        with torch.no_grad():
            for name, weight in adapted.named_parameters():
                if "lora_A" in name or "lora_B" in name:
                    # an adapter that changes what the model writes
                    weight.normal_(0, 0.5, generator=seeded)
        adapted.save_pretrained(folder)
    finally:
        adapted.unload()  # the session's tiny model is shared with other tests
    for path in base.iterdir():
        if not (folder / path.name).exists():
            (folder / path.name).symlink_to(path)
    return folder


@contextmanager
def _relay(upstream: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP relay on loopback that passes every POST on to `upstream` unchanged and keeps
    its JSON body: what the backend sent, as the server received it."""
    bodies: list[dict[str, Any]] = []

    class Relay(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers["Content-Length"]))
            bodies.append(json.loads(data))
            headers = {"Content-Type": "application/json"}
            request = urllib.request.Request(upstream + self.path, data, headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=120) as reply:
                    status, payload = reply.status, reply.read()
            except urllib.error.HTTPError as exc:
                status, payload = exc.code, exc.read()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    relay = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    thread = threading.Thread(target=relay.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{relay.server_address[1]}/v1", bodies
    finally:
        relay.shutdown()
        relay.server_close()


async def test_takes_come_back_from_a_real_server(server: Served) -> None:
    model = server.model
    generator = await open_generator(
        GenerationSettings(backend="remote", remote_url=server.url, remote_model=model)
    )
    request = TaskRequest(TaskKind.DIALOGUE, "Tom asks for a ride", ("MARA", "TOM"))
    takes = await generator.generate(request, 3, Sampling(max_new_tokens=8), room_id=2)
    await generator.close()
    assert len(takes) == 3
    assert all(t.model == model for t in takes)
    # A random model writes no dialogue: every take was sampled again and is marked.
    assert all(t.regenerated and t.problems for t in takes)
    assert server.bodies and all(body["model"] == model for body in server.bodies)


async def test_each_request_asks_for_the_rooms_adapter_by_its_name(server: Served) -> None:
    backend = RemoteBackend(server.url, server.model, adapter=server.adapter, timeout_s=120)
    messages = [{"role": "user", "content": "INT. FERRY - NIGHT"}]
    greedy = Sampling(max_new_tokens=8, temperature=0.0, seed=1)
    server.bodies.clear()
    adapted = await backend.complete(messages, [greedy, greedy], room_id=1, user_id=7)
    # Two takes; `transformers serve` refuses top_k the first time, and both are sent again.
    assert len(server.bodies) >= 2
    assert {body["model"] for body in server.bodies} == {server.adapter}
    assert backend.name == f"{server.model}+{server.adapter}"
    # The server ran the adapter it was asked for: the base model writes otherwise.
    base = RemoteBackend(server.url, server.model, timeout_s=120)
    plain = await base.complete(messages, [greedy], room_id=1, user_id=7)
    assert all(text for text in adapted) and adapted[0] != plain[0]


async def test_an_unreachable_server_is_reported_in_words() -> None:
    backend = RemoteBackend(f"http://127.0.0.1:{free_port()}/v1", "any", timeout_s=5)
    with pytest.raises(BackendError) as error:
        await backend.complete(
            [{"role": "user", "content": "hi"}], [Sampling()], room_id=0, user_id=0
        )
    assert str(error.value) == (
        "The model server cannot be reached right now; please try again later."
    )
