"""A backend that sends the same chat messages to an OpenAI-compatible server.

For rooms that outgrow one machine: vLLM (with the screenplay adapter), TGI, llama.cpp's server
or `transformers serve` do the batching; this backend sends one chat-completions request per
take, in parallel (servers differ on `n`), with the take's sampling settings. A server that holds
the room's LoRA adapter beside its base model (vLLM's `--enable-lora --lora-modules NAME=PATH`)
serves it as a model of that name: with `adapter` set, every request asks for the adapter.
`top_k` and `repetition_penalty` are not in the OpenAI API: vLLM and llama.cpp read them,
`transformers serve` refuses a request that has them, so after one such refusal they are no
longer sent.
HTTP runs on worker threads (urllib), so the event loop never waits on the network.

It knows the OpenAI wire format; it knows nothing of prompts, rooms or Discord.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from model.errors import BackendError, GenerationTimeout
from model.tasks import Progress, ProgressCallback, Sampling

_log = logging.getLogger(__name__)


class RemoteBackend:
    """Chat completions over HTTP. `base_url` ends in `/v1` (e.g. http://127.0.0.1:8000/v1);
    `model` is the base model the server runs, `adapter` the name it serves a LoRA adapter under
    (empty: the base model alone). Takes are credited to `name`: the model, `+adapter` with one."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        adapter: str = "",
        api_key: str = "",
        timeout_s: float = 300.0,
        max_parallel: int = 16,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.adapter = adapter
        self.name = f"{model}+{adapter}" if adapter else model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self._slots = asyncio.Semaphore(max_parallel)
        self._send_extras = True

    async def complete(
        self,
        messages: list[dict[str, str]],
        sampling: Sequence[Sampling],
        *,
        room_id: int,
        user_id: int,
        on_progress: ProgressCallback | None = None,
    ) -> list[str]:
        if on_progress is not None:
            on_progress(Progress(0, ("",) * len(sampling), 0))
        texts = await asyncio.gather(*(self._one(messages, s, user_id) for s in sampling))
        if on_progress is not None:
            on_progress(Progress(0, tuple(texts), 0, done=True))
        return list(texts)

    async def _one(self, messages: list[dict[str, str]], sampling: Sampling, user_id: int) -> str:
        body: dict[str, Any] = {
            "model": self.adapter or self.model,
            "messages": messages,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_new_tokens,
            "user": str(user_id),
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        async with self._slots:
            try:
                reply = await asyncio.wait_for(self._send(body, sampling), self.timeout_s)
            except TimeoutError:
                raise GenerationTimeout(self.timeout_s) from None
        try:
            return str(reply["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError(
                "The model server sent an answer the bot cannot read; please try again."
            ) from exc

    async def _send(self, body: dict[str, Any], sampling: Sampling) -> Any:
        if self._send_extras:
            extras = {"top_k": sampling.top_k, "repetition_penalty": sampling.repetition_penalty}
            try:
                return await asyncio.to_thread(self._post, "/chat/completions", body | extras)
            except _Refused as refusal:
                if refusal.code not in (400, 422):
                    raise _refused(refusal) from refusal
                _log.warning("model server refuses top_k/repetition_penalty; sending without")
                self._send_extras = False
        try:
            return await asyncio.to_thread(self._post, "/chat/completions", body)
        except _Refused as refusal:
            raise _refused(refusal) from refusal

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            self.base_url + path, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise _Refused(exc.code, exc.read()[:300].decode(errors="replace")) from exc
        except (urllib.error.URLError, OSError) as exc:
            _log.error("model server unreachable at %s: %s", self.base_url, exc)
            raise BackendError(
                "The model server cannot be reached right now; please try again later."
            ) from exc

    async def close(self) -> None:
        """Nothing to release: every request opens and closes its own connection."""


class _Refused(Exception):
    """The server answered with an HTTP error status."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"HTTP {code}: {detail}")
        self.code = code


def _refused(refusal: _Refused) -> BackendError:
    _log.error("model server refused a request: %s", refusal)
    return BackendError(
        f"The model server refused the request (HTTP {refusal.code}); please try again later."
    )
