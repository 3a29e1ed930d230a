"""Errors of the generation side. The `str()` of each is the sentence a writer is shown.

The room maps these onto its own error handling; nothing here knows of Discord.
"""

from __future__ import annotations


class GenerationError(Exception):
    """Base class: a request for takes could not be served."""


class QueueFull(GenerationError):
    """The queue holds as many waiting requests as it may."""

    def __init__(self, waiting: int) -> None:
        super().__init__(
            f"The model is busy with {waiting} waiting requests from other rooms; "
            "please try again in a minute."
        )


class TooManyRequests(GenerationError):
    """One writer has too many requests outstanding."""

    def __init__(self, limit: int) -> None:
        plural = "request" if limit == 1 else "requests"
        super().__init__(
            f"You already have {limit} {plural} waiting for the model; "
            "wait for one to finish before asking again."
        )


class GenerationTimeout(GenerationError):
    """A request did not finish within its time limit."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The model did not finish within {seconds:g} seconds; "
            "try again, or ask for fewer or shorter takes."
        )


class QueueTimeout(GenerationTimeout):
    """A request waited in the queue longer than its limit before the model started on it."""

    def __init__(self, seconds: float) -> None:
        GenerationError.__init__(
            self,
            f"The model was too busy to start on this request within {seconds:g} seconds; "
            "please try again in a minute.",
        )


class GenerationCancelled(GenerationError):
    """The request was cancelled before it finished."""

    def __init__(self) -> None:
        super().__init__("The request was cancelled before the model finished.")


class QueueClosed(GenerationError):
    """The queue no longer accepts requests (the bot is shutting down)."""

    def __init__(self) -> None:
        super().__init__("The model is shutting down; please try again once the bot is back.")


class BackendError(GenerationError):
    """The generation backend failed (the remote server is down, the model crashed)."""


class OutOfMemory(BackendError):
    """One take of the request does not fit in the model's memory even alone."""

    def __init__(self) -> None:
        super().__init__(
            "The model ran out of memory on this request even with nothing else running; "
            "ask for shorter takes or a shorter context."
        )


class RequestTooLong(GenerationError, ValueError):
    """The prompt and the takes' token budget exceed the model's context."""

    def __init__(self, prompt_tokens: int, new_tokens: int, context: int) -> None:
        super().__init__(
            f"This request needs {prompt_tokens} tokens of context plus up to {new_tokens} "
            f"new ones, more than the model's limit of {context}; ask for shorter takes."
        )


class BadSampling(GenerationError, ValueError):
    """A sampling setting is out of its range (raised where the `Sampling` is built)."""

    def __init__(self, setting: str, rule: str, value: object) -> None:
        super().__init__(f"The {setting} must be {rule}, not {value!r}.")
