"""A tokenizer without transformers: `LightTokenizer` encodes with the `tokenizers` library and
renders the model's chat template with jinja2 the way transformers does, so a warm start that
runs the fast path imports neither transformers nor peft.

`model.loading` checks once, when it writes the runtime weight cache, that this tokenizer
behaves as the model's own (`same_behaviour`). Knows tokenizers and chat templates; nothing of
weights or devices.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)


#: Text the light tokenizer must encode, decode and template exactly as transformers does before
#: it is kept: markup, a special token inside a message, accents, CJK, an emoji, spacing.
_PROBE = (
    {"role": "system", "content": "You write screenplays.\n  Keep it to one page."},
    {
        "role": "user",
        "content": 'INT. FERRY - NIGHT\n\nMARA (60): «Adiós»  渡し守;\t"quotes" <|im_end|> 🎬',
    },
)
_PROBE_TOKENS = ("<|im_end|>", "<|im_start|>", "<|eot_id|>", "<|endoftext|>", "no such token")


class LightTokenizer:
    """The tokenizer as the generation side uses it — encode, decode, special tokens, the chat
    template — on the `tokenizers` library and jinja2 alone: importing transformers costs a
    second of every start. `of` makes one from a Hugging Face tokenizer and keeps it only when it
    gives that tokenizer's very ids and text on a probe (the runtime cache then holds the Hugging
    Face one instead). The template renders in jinja2's sandbox, configured as transformers
    configures it, with `messages`, `add_generation_prompt` and the special tokens."""

    def __init__(self, backend: Any, special: Mapping[str, str], chat_template: str | None) -> None:
        backend.no_padding()
        backend.no_truncation()
        self._backend = backend
        self.special_tokens_map = dict(special)
        self.chat_template = chat_template

    @classmethod
    def of(cls, tokenizer: Any) -> LightTokenizer | None:
        """A copy of the Hugging Face `tokenizer`, or None when it would not behave the same."""
        from tokenizers import Tokenizer

        template = tokenizer.chat_template
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None or not (template is None or isinstance(template, str)):
            return None
        light = cls(Tokenizer.from_str(backend.to_str()), tokenizer.special_tokens_map, template)
        return light if _same_behaviour(light, tokenizer) else None

    @classmethod
    def read(cls, path: Path, description: Mapping[str, Any]) -> LightTokenizer:
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(path)), description["special"], description["template"])

    def manifest(self) -> dict[str, Any]:
        """What `read` needs besides the tokenizer's own file."""
        return {"kind": "light", "special": self.special_tokens_map, "template": self.chat_template}

    def __len__(self) -> int:
        return int(self._backend.get_vocab_size(with_added_tokens=True))

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        ids = self.encode(text, add_special_tokens=add_special_tokens)
        return {"input_ids": ids, "attention_mask": [1] * len(ids)}

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return list(self._backend.encode(text, add_special_tokens=add_special_tokens).ids)

    def decode(self, ids: int | Sequence[int], skip_special_tokens: bool = False) -> str:
        ids = [ids] if isinstance(ids, int) else [int(i) for i in ids]
        return str(self._backend.decode(ids, skip_special_tokens=skip_special_tokens))

    def convert_ids_to_tokens(self, ids: Sequence[int]) -> list[str | None]:
        """The vocabulary's pieces of `ids` (byte-level BPE: GPT-2's alphabet), as
        transformers gives them."""
        return [self._backend.id_to_token(i) for i in ids]

    def convert_tokens_to_ids(self, token: str) -> int | None:
        found = self._backend.token_to_id(token)
        return self.unk_token_id if found is None else int(found)

    def _token(self, name: str) -> str | None:
        return self.special_tokens_map.get(name)

    def _token_id(self, name: str) -> int | None:
        token = self._token(name)
        return None if token is None else self.convert_tokens_to_ids(token)

    @property
    def eos_token(self) -> str | None:
        return self._token("eos_token")

    @property
    def eos_token_id(self) -> int | None:
        return self._token_id("eos_token")

    @property
    def bos_token_id(self) -> int | None:
        return self._token_id("bos_token")

    @property
    def pad_token(self) -> str | None:
        return self._token("pad_token")

    @property
    def pad_token_id(self) -> int | None:
        return self._token_id("pad_token")

    @property
    def unk_token_id(self) -> int | None:
        token = self._token("unk_token")
        found = None if token is None else self._backend.token_to_id(token)
        return None if found is None else int(found)

    def apply_chat_template(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        add_generation_prompt: bool = False,
        tokenize: bool = True,
        return_dict: bool = True,
    ) -> Any:
        """The chat rendered by the model's template (a string), or its ids (a dict with
        `input_ids`, or the list) as transformers' `apply_chat_template` gives them."""
        if self.chat_template is None:
            raise ValueError("this tokenizer has no chat template")
        chat = [{k: v for k, v in message.items() if v is not None} for message in messages]
        text = _compiled_template(self.chat_template).render(
            messages=chat,
            tools=None,
            documents=None,
            add_generation_prompt=add_generation_prompt,
            **self.special_tokens_map,
        )
        if not tokenize:
            return text
        ids = self.encode(text, add_special_tokens=False)
        return {"input_ids": ids, "attention_mask": [1] * len(ids)} if return_dict else ids


def _same_behaviour(light: LightTokenizer, tokenizer: Any) -> bool:
    """Whether `light` gives what the Hugging Face `tokenizer` gives on the probe."""
    messages = [dict(message) for message in _PROBE]
    text = "\n\n".join(message["content"] for message in messages)
    try:
        ids = list(tokenizer(text)["input_ids"])
        same = [
            light(text)["input_ids"] == ids,
            light(text, add_special_tokens=False)["input_ids"]
            == list(tokenizer(text, add_special_tokens=False)["input_ids"]),
            len(light) == len(tokenizer),
        ]
        if tokenizer.chat_template is not None:
            chat = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=True, return_dict=True
            )
            ids = list(chat["input_ids"])
            mine = light.apply_chat_template(messages, add_generation_prompt=True)["input_ids"]
            same.append(mine == ids)
        same += [
            light.decode(ids, skip_special_tokens=skip)
            == tokenizer.decode(ids, skip_special_tokens=skip)
            for skip in (True, False)
        ]
        same.append([light.decode([i]) for i in ids] == [tokenizer.decode([i]) for i in ids])
        same += [
            light.convert_tokens_to_ids(t) == tokenizer.convert_tokens_to_ids(t)
            for t in _PROBE_TOKENS
        ]
        same += [
            getattr(light, name) == getattr(tokenizer, name)
            for name in ("eos_token", "eos_token_id", "pad_token_id", "unk_token_id")
        ]
    except Exception as exc:  # a template or tokenizer the light one cannot follow
        _log.info("keeping the Hugging Face tokenizer: the light one failed (%s)", exc)
        return False
    if not all(same):
        _log.info("keeping the Hugging Face tokenizer: the light one differs on the probe")
    return all(same)


@functools.lru_cache(maxsize=8)
def _compiled_template(source: str) -> Any:
    """`source` compiled as transformers compiles a chat template (its sandbox, options, filters
    and globals), less its `{% generation %}` tag, which only training's masks use."""
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
    )
    environment.filters["tojson"] = _tojson
    environment.globals["raise_exception"] = _raise_template_error
    environment.globals["strftime_now"] = _strftime_now
    environment.globals["dict"] = _TemplateDict()
    environment.globals["namespace"] = _template_namespace()
    return environment.from_string(source)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    # Unlike jinja2's own filter, no HTML escaping (as transformers does it).
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _raise_template_error(message: str) -> None:
    from jinja2.exceptions import TemplateError

    raise TemplateError(message)


def _strftime_now(format: str) -> str:
    return datetime.now().strftime(format)


class _TemplateDict:
    """`dict` as a template may call it, without the type itself (as transformers offers it)."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict(*args, **kwargs)

    def fromkeys(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict.fromkeys(*args, **kwargs)


@functools.cache
def _template_namespace() -> type:
    """jinja2's `namespace`, refusing underscore names (as transformers' does)."""
    from jinja2.exceptions import SecurityError
    from jinja2.utils import Namespace

    def check(name: Any) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise SecurityError(f"a chat template cannot set {name!r} on a namespace")

    class TemplateNamespace(Namespace):
        def __init__(*args: Any, **kwargs: Any) -> None:
            self, args = args[0], args[1:]
            attributes = dict(*args, **kwargs)
            for name in attributes:
                check(name)
            Namespace.__init__(self, attributes)

        def __setitem__(self, name: str, value: Any) -> None:
            check(name)
            Namespace.__setitem__(self, name, value)

    return TemplateNamespace
