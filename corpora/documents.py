"""A raw document: identifier, text and an optional label."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """One raw document as read by a loader.

    Attributes
    ----------
    id : str
        Identifier, unique within one source (a file path, a row id, a line number).
    text : str
        The raw text.
    label : str or None
        Optional class label (a newsgroup, a category column).
    """

    id: str
    text: str
    label: str | None = None
