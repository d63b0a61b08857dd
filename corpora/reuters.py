"""Reuters-21578 (Distribution 1.0): the SGML files ``reut2-000.sgm`` ... ``reut2-021.sgm``.

Each ``<REUTERS>`` element is one document: its text is the TITLE and BODY (the whole TEXT of
``TYPE="UNPROC"`` stories), with character references removed and entities unescaped; its label
is the first of its TOPICS (None when it has none); its id is ``<lewissplit>/<NEWID>``, e.g.
``train/5``, so the standard split can be read off the id (``LEWISSPLIT`` is TRAIN, TEST or
NOT-USED; the "ModApte" split keeps TRAIN and TEST stories with ``TOPICS="YES"``). Files are read
as Latin-1, as the collection's own notes advise.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from corpora.documents import Document
from corpora.errors import CorpusError

_STORY = re.compile(r"<REUTERS([^>]*)>(.*?)</REUTERS>", re.S)
_ATTR = re.compile(r'(\w+)="([^"]*)"')
_TOPICS = re.compile(r"<TOPICS>(.*?)</TOPICS>", re.S)
_D = re.compile(r"<D>(.*?)</D>", re.S)
_TEXT = re.compile(r"<TEXT[^>]*>(.*?)</TEXT>", re.S)
_TITLE = re.compile(r"<TITLE>(.*?)</TITLE>", re.S)
_BODY = re.compile(r"<BODY>(.*?)</BODY>", re.S)
_TAG = re.compile(r"<[^>]+>")
_CHAR_REF = re.compile(r"&#\d+;")


def is_reuters_folder(path: Path) -> bool:
    """True for a folder that holds the collection's ``reut2-*.sgm`` files."""
    return path.is_dir() and any(path.glob("reut2-*.sgm"))


def _text(story: str) -> str:
    body = _TEXT.search(story)
    inner = body.group(1) if body else ""
    title, text = _TITLE.search(inner), _BODY.search(inner)
    if title or text:
        parts = [m.group(1) for m in (title, text) if m]
    else:  # TYPE="UNPROC": unstructured text without TITLE or BODY
        parts = [_TAG.sub(" ", inner)]
    return html.unescape(_CHAR_REF.sub(" ", "\n".join(parts))).strip()


def parse_sgml(text: str, name: str = "") -> list[Document]:
    """Documents of one Reuters-21578 SGML file's text."""
    docs = []
    for attrs, story in _STORY.findall(text):
        a = dict(_ATTR.findall(attrs))
        if "NEWID" not in a:
            raise CorpusError(f"{name}: a <REUTERS> element has no NEWID; is this a Reuters-21578 file?")
        topics = _TOPICS.search(story)
        labels = _D.findall(topics.group(1)) if topics else []
        split = a.get("LEWISSPLIT", "unknown").lower()
        docs.append(Document(id=f"{split}/{a['NEWID']}", text=_text(story), label=labels[0] if labels else None))
    return docs


def load_reuters(path: str | Path) -> list[Document]:
    """Read every story of a Reuters-21578 folder (or of one ``.sgm`` file).

    Returns
    -------
    list of Document
        In file order; 21,578 for the whole collection.
    """
    path = Path(path)
    files = sorted(path.glob("reut2-*.sgm")) if path.is_dir() else [path]
    docs: list[Document] = []
    for f in files:
        try:
            text = f.read_bytes().decode("latin-1")
        except OSError as exc:
            raise CorpusError(f"cannot read {f}: {exc.strerror}") from None
        found = parse_sgml(text, str(f))
        if not found:
            raise CorpusError(f"{f} holds no <REUTERS> stories; is it a Reuters-21578 .sgm file?")
        docs.extend(found)
    if not docs:
        raise CorpusError(f"no reut2-*.sgm files in {path}")
    return docs
