"""Documents for display: snippets, a plain text search, and the text as HTML with its words
coloured by unit. Every piece of document text is HTML-escaped here before it reaches the page."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def markdown_escape(text: str) -> str:
    """``text`` with Markdown's special characters escaped, for user-given strings (file names,
    model names, document ids) shown with ``st.markdown``."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


PALETTE = ("#7dc9ff", "#ffb785", "#abe397", "#f98c8b", "#baabfe", "#f1e48d", "#81e1df", "#fec0e0")
"""Background colours for the units of one document: blue, orange, green, red, violet, yellow,
teal and pink, hues about 45 degrees apart in CIELAB at lightness 70-90. Any two differ by more
than 25 (CIE76 delta E; the previous palette had two pinks 14 apart and two oranges 20 apart),
and black text on each has a contrast ratio above 9:1, so the text stays readable."""


def snippet(text: str | None, length: int = 160) -> str:
    """The first ``length`` characters of a text on one line."""
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


def search(texts: Sequence[str] | None, doc_ids: Sequence[str], query: str, limit: int = 50) -> list[tuple[int, str]]:
    """Documents whose text (or id) contains every word of ``query``, case-insensitively.

    Returns
    -------
    list of (position, snippet around the first match), at most ``limit``.
    """
    words = [w for w in query.lower().split() if w]
    if not words:
        return []
    found = []
    for i, doc_id in enumerate(doc_ids):
        text = texts[i] if texts is not None else ""
        haystack = f"{doc_id}\n{text}".lower()
        if all(w in haystack for w in words):
            found.append((i, _around(text, words[0])))
            if len(found) >= limit:
                break
    return found


def _around(text: str, word: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    at = flat.lower().find(word)
    if at < 0:
        return snippet(flat, 2 * width)
    start, end = max(0, at - width), min(len(flat), at + len(word) + width)
    return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")


def unit_colours(units_by_weight: Sequence[int]) -> dict[int, str]:
    """Colours for units, strongest first; units beyond the palette get none."""
    return {int(u): PALETTE[i] for i, u in enumerate(units_by_weight[: len(PALETTE)])}


def coloured_html(pieces: Sequence[tuple[str, int]], colours: dict[int, str], max_chars: int = 20_000) -> str:
    """HTML for text pieces labelled with units (see :func:`docmodel.explain.attributed_segments`).

    Text is escaped; line breaks become ``<br>``; a piece whose unit has a colour gets a
    highlighted span with the unit in its tooltip.
    """
    out, used = [], 0
    for text, unit in pieces:
        if used >= max_chars:
            out.append("<i>… (the rest of the document is not shown)</i>")
            break
        text = text[: max_chars - used]
        used += len(text)
        escaped = html.escape(text).replace("\n", "<br>")
        colour = colours.get(unit)
        if colour is None:
            out.append(escaped)
        else:
            out.append(
                f'<span title="unit {unit}" style="background:{colour};border-radius:3px;padding:0 2px">{escaped}</span>'
            )
    return (
        '<div style="font-family:Georgia,serif;font-size:0.98rem;line-height:1.7;max-height:420px;'
        'overflow-y:auto;padding:0.8rem 1rem;border:1px solid #ddd;border-radius:6px;background:#fff">'
        + "".join(out)
        + "</div>"
    )


def colouring_note(n_on: int, n_coloured: int, unit_name: str) -> str | None:
    """What a document's colouring leaves out, for a caption under its legend: the ``n_on``
    units (``unit_name``: "unit", "topic", "dimension"...) on for it beyond the ``n_coloured``
    strongest, or that none is on (then no word is coloured); None when every one on is coloured."""
    if n_on == 0:
        return (f"No {unit_name} is on for this document (none passes the model's threshold), so no word is "
                f"coloured; the bars below show each {unit_name}'s value.")
    if n_on > n_coloured:
        more = n_on - n_coloured
        return (f"{more} more {unit_name}{'s are' if more > 1 else ' is'} on for this document (see the bars "
                "below); only the strongest are coloured.")
    return None


def legend_html(colours: dict[int, str], top_words: dict[int, Sequence[str]], weights: dict[int, float]) -> str:
    """A colour key: unit, its weight in the document and its top words (escaped)."""
    items = []
    for unit, colour in colours.items():
        words = html.escape(", ".join(top_words.get(unit, [])[:5]))
        items.append(
            f'<span style="display:inline-block;margin:2px 8px 2px 0;white-space:nowrap">'
            f'<span style="background:{colour};border-radius:3px;padding:0 6px">unit {unit}</span> '
            f'<small>q={weights.get(unit, 0):.2f}: {words}</small></span>'
        )
    return "<div>" + "".join(items) + "</div>"


def bag_of_words_pieces(
    word_ids: Sequence[int], counts: Sequence[int], words: Sequence[str], word_unit
) -> list[tuple[str, int]]:
    """Pieces (as :func:`coloured_html` takes them) for a document without raw text: its words
    with their counts, each labelled with the unit that explains it."""
    pieces = []
    for w, c in zip(word_ids, counts):
        pieces.append((words[w] if c == 1 else f"{words[w]}×{c}", int(word_unit[w])))
        pieces.append((" ", -1))
    return pieces
