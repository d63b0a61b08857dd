"""The Reuters-21578 SGML loader."""

from __future__ import annotations

from collections import Counter

import pytest

from corpora.errors import CorpusError
from corpora.loaders import detect_format, load_documents
from corpora.reuters import parse_sgml
from tests.conftest import shared_path

SGML = """<!DOCTYPE lewis SYSTEM "lewis.dtd">
<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="5544" NEWID="1">
<DATE>26-FEB-1987 15:01:01.79</DATE>
<TOPICS><D>cocoa</D><D>grain</D></TOPICS>
<TEXT>&#2;
<TITLE>BAHIA COCOA REVIEW</TITLE>
<BODY>Showers continued &amp; the drought eased.
 Reuter
&#3;</BODY></TEXT>
</REUTERS>
<REUTERS TOPICS="NO" LEWISSPLIT="TEST" CGISPLIT="TRAINING-SET" OLDID="5545" NEWID="2">
<TOPICS></TOPICS>
<TEXT TYPE="UNPROC">&#2;
Unstructured text &lt;here&gt;
&#3;</TEXT>
</REUTERS>
"""


def test_parse_title_body_labels_and_split_ids():
    docs = parse_sgml(SGML)
    assert [d.id for d in docs] == ["train/1", "test/2"]
    assert docs[0].label == "cocoa" and docs[1].label is None
    assert docs[0].text.startswith("BAHIA COCOA REVIEW\nShowers continued & the drought eased.")
    assert "&#" not in docs[0].text
    assert docs[1].text == "Unstructured text <here>"


def test_sgm_files_and_folders_are_detected(tmp_path):
    (tmp_path / "reut2-000.sgm").write_text(SGML, encoding="latin-1")
    assert detect_format(tmp_path) == "reuters"
    assert detect_format(tmp_path / "reut2-000.sgm") == "reuters"
    assert len(load_documents(tmp_path)) == 2


def test_a_file_without_stories_is_refused(tmp_path):
    (tmp_path / "reut2-000.sgm").write_text("<html>not reuters</html>", encoding="latin-1")
    with pytest.raises(CorpusError, match="holds no <REUTERS> stories"):
        load_documents(tmp_path)


def test_the_whole_collection_matches_its_published_counts():
    docs = load_documents(shared_path("reuters21578"))
    assert len(docs) == 21578
    splits = Counter(d.id.split("/")[0] for d in docs)
    assert splits == {"train": 14668, "test": 6188, "not-used": 722}
    topics = Counter(d.label for d in docs if d.label is not None)
    assert sum(topics.values()) == 11367  # stories with at least one topic (SOURCE.md)
