"""A minimal synchronous signal, so the core models can be observed without Qt."""

from __future__ import annotations

from typing import Any, Callable


class Signal:
    """A list of callbacks called in order by :meth:`emit` (psygnal-like, no Qt)."""

    __slots__ = ("_slots", "_blocked")

    def __init__(self) -> None:
        self._slots: list[Callable[..., Any]] = []
        self._blocked = 0

    def connect(self, slot: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``slot`` on every emit; returns it so this works as a decorator."""
        if slot not in self._slots:
            self._slots.append(slot)
        return slot

    def disconnect(self, slot: Callable[..., Any]) -> None:
        """Stop calling ``slot``; unknown slots are ignored."""
        if slot in self._slots:
            self._slots.remove(slot)

    def emit(self, *args: Any) -> None:
        """Call every connected slot with ``args`` unless the signal is blocked."""
        if self._blocked:
            return
        for slot in list(self._slots):
            slot(*args)

    def blocked(self) -> "_Blocker":
        """Context manager that silences the signal (used for bulk loads)."""
        return _Blocker(self)


class _Blocker:
    def __init__(self, signal: Signal) -> None:
        self._signal = signal

    def __enter__(self) -> None:
        self._signal._blocked += 1

    def __exit__(self, *exc: object) -> None:
        self._signal._blocked -= 1
