"""Whatever bytes a file holds, loading it gives documents or a CorpusError, nothing else.

Two kinds of input per extension: arbitrary bytes, and a valid file of that kind with a few
bytes overwritten (which reaches much deeper into the zip, tar, gzip and Parquet readers).
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpora.errors import CorpusError
from corpora.loaders import LoadedDocuments, load_documents

EXTENSIONS = (".txt", ".csv", ".tsv", ".jsonl", ".zip", ".tar.gz", ".parquet")

FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


def valid_sample(extension: str) -> bytes:
    """A small well-formed file of each kind, as bytes."""
    texts = ["first document text", "second, with a comma", "third\tone"]
    frame = pd.DataFrame({"id": ["a", "b", "c"], "text": texts, "label": ["x", "y", "x"]})
    if extension == ".txt":
        return "\n".join(texts).encode()
    if extension == ".csv":
        return frame.to_csv(index=False).encode()
    if extension == ".tsv":
        return frame.to_csv(index=False, sep="\t").encode()
    if extension == ".jsonl":
        return frame.to_json(orient="records", lines=True).encode()
    buffer = io.BytesIO()
    if extension == ".parquet":
        frame.to_parquet(buffer)
    elif extension == ".zip":
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for i, text in enumerate(texts):
                archive.writestr(f"corpus/g{i % 2}/{i}.txt", text * 20)
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for i, text in enumerate(texts):
                data = (text * 20).encode()
                info = tarfile.TarInfo(f"corpus/g{i % 2}/{i}.txt")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


SAMPLES = {extension: valid_sample(extension) for extension in EXTENSIONS}


def load_or_refuse(extension: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{extension}"
        path.write_bytes(data)
        try:
            loaded = load_documents(path)
        except CorpusError as exc:
            assert str(exc)
            return
    assert isinstance(loaded, LoadedDocuments) and len(loaded) > 0
    assert len({d.id for d in loaded}) == len(loaded)
    for doc in loaded:
        assert isinstance(doc.text, str) and isinstance(doc.id, str)
        doc.text.encode("utf-8")


@pytest.mark.parametrize("extension", EXTENSIONS)
def test_valid_samples_load(extension):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"sample{extension}"
        path.write_bytes(SAMPLES[extension])
        assert len(load_documents(path)) == 3


@pytest.mark.parametrize("extension", EXTENSIONS)
@FUZZ
@given(data=st.binary(max_size=2_000))
def test_arbitrary_bytes_load_or_raise_corpus_error(extension, data):
    load_or_refuse(extension, data)


@pytest.mark.parametrize("extension", EXTENSIONS)
@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.integers(min_value=0), st.binary(min_size=1, max_size=4)),
        min_size=1,
        max_size=4,
    ),
    cut=st.none() | st.integers(min_value=0),
)
def test_damaged_valid_files_load_or_raise_corpus_error(extension, edits, cut):
    data = bytearray(SAMPLES[extension])
    for position, patch in edits:
        start = position % len(data)
        data[start : start + len(patch)] = patch
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    load_or_refuse(extension, bytes(data))
