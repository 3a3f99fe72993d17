"""The package's own error types. Each is also a ValueError, so callers that catch
ValueError (as they did before these existed) keep working."""

from __future__ import annotations


class WrongType(TypeError, ValueError):
    """An argument of the wrong type: a string, None or a bool where a number belongs."""


class UnknownName(KeyError, ValueError):
    """A lookup by name (accelerator, model, dtype) found no single match.

    `str()` is the plain message (KeyError alone would print it quoted).
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
