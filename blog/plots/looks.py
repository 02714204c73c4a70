"""The looks a page shows a figure in: light or dark colour scheme, wide (desktop) or narrow
(phones), and the file name of each variant. Cheap to import (no matplotlib): the stage
declarations name their variant outputs with it.

    mixture.png               light, wide: the file the post's Markdown names
    mixture.dark.png          dark, wide
    mixture.narrow.png        light, narrow (only for figures too wide for a phone's column)
    mixture.narrow.dark.png   dark, narrow

The page's image hook (layouts/_markup/render-image.html) finds the variants by these names and
offers them with <picture> sources on prefers-color-scheme and the viewport's width.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

Scheme = Literal["light", "dark"]


@dataclass(frozen=True)
class Look:
    """One way the page shows a figure: a colour scheme, and wide or narrow."""

    scheme: Scheme = "light"
    narrow: bool = False

    def __post_init__(self) -> None:
        if self.scheme not in ("light", "dark"):
            raise ValueError(f"a look's scheme is 'light' or 'dark', not {self.scheme!r}")

    @property
    def suffix(self) -> str:
        """'' | '.dark' | '.narrow' | '.narrow.dark': inserted before the file's extension."""
        return (".narrow" if self.narrow else "") + (".dark" if self.scheme == "dark" else "")

    def file(self, name: str) -> str:
        """'mixture.png' -> 'mixture.narrow.dark.png' for this look."""
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            raise ValueError(f"{name!r}: a figure's file name needs an extension")
        return f"{stem}{self.suffix}.{ext}"


WIDE = (Look("light"), Look("dark"))  # every figure is drawn in these
NARROW = (Look("light", narrow=True), Look("dark", narrow=True))  # and wide ones in these too
DEFAULT = Look()  # light, wide
_LOOK: ContextVar[Look] = ContextVar("look")


def looks(narrow: bool = True) -> tuple[Look, ...]:
    """The looks of one figure: both schemes, wide, and narrow too unless narrow=False."""
    return WIDE + NARROW if narrow else WIDE


def look() -> Look:
    """The look being drawn (light and wide unless inside `looking(...)`)."""
    return _LOOK.get(DEFAULT)


@contextmanager
def looking(lk: Look) -> Iterator[Look]:
    """Draw in this look for the duration of a block."""
    token = _LOOK.set(lk)
    try:
        yield lk
    finally:
        _LOOK.reset(token)
