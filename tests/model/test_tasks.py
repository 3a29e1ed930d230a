"""The request contract: sampling settings are checked where they are built, with a sentence a
writer can read, so that a bad setting never reaches a batch; and the contract imports no torch."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import pytest

from model.errors import BadSampling, GenerationError
from model.tasks import Sampling


@pytest.mark.parametrize(
    ("setting", "sentence"),
    [
        ({"temperature": math.nan}, "The temperature must be a number of 0 or more, not nan."),
        ({"temperature": math.inf}, "The temperature must be a number of 0 or more, not inf."),
        ({"temperature": -0.5}, "The temperature must be a number of 0 or more, not -0.5."),
        ({"top_p": 0.0}, "The top-p must be above 0 and at most 1, not 0.0."),
        ({"top_p": 1.01}, "The top-p must be above 0 and at most 1, not 1.01."),
        ({"top_p": math.nan}, "The top-p must be above 0 and at most 1, not nan."),
        ({"top_k": -1}, "The top-k must be a whole number of 0 (off) or more, not -1."),
        ({"top_k": 2.5}, "The top-k must be a whole number of 0 (off) or more, not 2.5."),
        ({"repetition_penalty": 0.0}, "The repetition penalty must be a number above 0, not 0.0."),
        (
            {"repetition_penalty": math.inf},
            "The repetition penalty must be a number above 0, not inf.",
        ),
        ({"max_new_tokens": 0}, "The take length must be a whole number of tokens above 0, not 0."),
        (
            {"max_new_tokens": -3},
            "The take length must be a whole number of tokens above 0, not -3.",
        ),
    ],
)
def test_sampling_out_of_range_is_refused_with_a_sentence(
    setting: dict[str, Any], sentence: str
) -> None:
    with pytest.raises(BadSampling) as error:
        Sampling(**setting)
    assert str(error.value) == sentence
    assert isinstance(error.value, ValueError) and isinstance(error.value, GenerationError)


@pytest.mark.parametrize(
    "setting",
    [
        {},  # the defaults
        {"temperature": 0.0, "max_new_tokens": 16},  # the room's extremes (bot.domain)
        {"temperature": 2.0, "max_new_tokens": 4096},
        {"top_k": 0, "top_p": 1.0, "repetition_penalty": 1.0},  # all off
        {"temperature": 1.5, "top_k": 40, "top_p": 0.9, "repetition_penalty": 1e6, "seed": 7},
    ],
)
def test_sampling_in_range_is_built(setting: dict[str, Any]) -> None:
    assert Sampling(**setting) == Sampling(**setting)


def test_the_request_contract_imports_no_torch() -> None:
    code = "import sys, model.tasks, model.errors, model.prompts; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
