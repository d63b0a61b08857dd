"""Model files from strangers: code-running pickles are refused unrun, broken files are named.

Each crafted pickle is first loaded the safe way (refused, and its marker file never appears),
then loaded the unsafe way in the same test to prove the payload was live: a test that could not
have failed proves nothing. Truncated, corrupted, foreign, mislabelled and mismatched files give
a :class:`ModelError` whose message says what is wrong; the command line answers them with exit
code 2 and one line.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import os
import pickle
import shlex
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpora import Corpus, Dataset, Vocabulary
from docmodel.checkpoint import load_checkpoint, load_model
from docmodel.cli import main
from docmodel.errors import ModelError
from docmodel.models.lda.estimator import LDATopicModel
from docmodel.models.sbn.estimator import SBNTopicModel
from tests.docmodel.models.sbn.test_sbn_estimator import planted_corpus
from tests.time_limit import time_limit

# torch warns about the odd pickle protocols that crafted and damaged files declare
pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")

PROPERTY = settings(
    max_examples=40,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A tiny SBN and a tiny LDA model, saved, with the corpus they were trained on."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("models")
    X, vocab = planted_corpus(n_docs=120, n_blocks=4, words_per_block=8, length=30)
    sbn = SBNTopicModel(n_units=3, max_epochs=2, n_val_docs=10).fit(X, vocabulary=vocab)
    lda = LDATopicModel(n_units=3, max_iter=2).fit(X, vocabulary=vocab)
    Dataset(Corpus(X, vocab, [f"d{i}" for i in range(X.shape[0])])).save(folder / "corpus")
    return {
        "sbn": sbn.save(folder / "sbn"),
        "lda": lda.save(folder / "lda"),
        "corpus": folder / "corpus",
        "X": X,
        "vocab": vocab,
    }


def cli(*args) -> tuple[int, str]:
    """Run ``docmodel ARGS`` in-process; the exit code and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([str(a) for a in args])
    return code, err.getvalue()


def assert_one_line_exit_2(code: int, err: str, verb: str, message: str) -> None:
    assert code == 2, err
    assert err.startswith(f"docmodel {verb}: error: ") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err


# --- payloads that run code when unpickled ------------------------------------------------------
class ShellCommand:
    """Unpickling calls ``os.system("touch MARKER")``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


class PythonCode:
    """Unpickling calls ``exec`` on code that writes MARKER."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return builtins.exec, (f"open({str(self.marker)!r}, 'w').write('ran')",)


def torch_zip(obj, path: Path) -> None:
    torch.save(obj, path)


def torch_legacy(obj, path: Path) -> None:
    torch.save(obj, path, _use_new_zipfile_serialization=False)


def raw_pickle(protocol: int):
    def write(obj, path: Path) -> None:
        path.write_bytes(pickle.dumps(obj, protocol=protocol))

    write.__name__ = f"pickle_protocol_{protocol}"
    return write


def unsafe_load(path: Path, marker: Path) -> None:
    """What a careless loader would do; only here to prove the payload is live."""
    with contextlib.suppress(Exception):
        torch.load(path, weights_only=False)
    if not marker.exists():
        with contextlib.suppress(Exception):
            pickle.loads(path.read_bytes())


WRITERS = [torch_zip, torch_legacy, raw_pickle(0), raw_pickle(2), raw_pickle(5)]
PAYLOADS = [ShellCommand, PythonCode]


def nest_in_checkpoint(real: Path, payload) -> dict:
    """A real checkpoint's plain data with the payload hidden deep inside it."""
    data = torch.load(real, weights_only=True)
    data["config"]["params"]["n_units"] = payload
    return data


@pytest.mark.parametrize("write", WRITERS, ids=lambda w: w.__name__)
@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.__name__)
@pytest.mark.parametrize("where", ["bare", "inside-a-checkpoint"])
def test_code_running_pickles_are_refused_unrun(models, tmp_path, write, payload, where):
    marker = tmp_path / "payload-ran"
    obj = payload(marker)
    if where == "inside-a-checkpoint":
        obj = nest_in_checkpoint(models["sbn"], obj)
    model_dir = tmp_path / "evil"
    model_dir.mkdir()
    path = model_dir / "model.pt"
    write(obj, path)

    refused = "was refused without loading it|not a readable docmodel|not a docmodel model file"
    with pytest.raises(ModelError, match=refused):
        load_model(model_dir)
    with pytest.raises(ModelError):
        load_checkpoint(io.BytesIO(path.read_bytes()))  # an upload arrives as a stream
    code, err = cli("topics", model_dir)
    assert_one_line_exit_2(code, err, "topics", str(path))
    code, err = cli("evaluate", path, models["corpus"], "--split", "train")
    assert_one_line_exit_2(code, err, "evaluate", str(path))
    assert not marker.exists(), "the payload ran"

    unsafe_load(path, marker)
    assert marker.exists(), "the payload was not live: this test would prove nothing"


def test_pickle_refusal_names_what_it_asked_for(models, tmp_path):
    marker = tmp_path / "ran"
    torch.save(ShellCommand(marker), tmp_path / "m.pt")
    with pytest.raises(ModelError) as info:
        load_model(tmp_path / "m.pt")
    message = str(info.value)
    assert "is not a plain-data docmodel checkpoint and was refused without loading it" in message
    assert "system" in message and "\n" not in message
    assert not marker.exists()


# --- broken and foreign files -----------------------------------------------------------------
def rewritten(real: Path, path: Path, change) -> Path:
    data = torch.load(real, weights_only=True)
    change(data)
    torch.save(data, path)
    return path


def zip_of_text(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not a model")
    return path


BROKEN = {
    "empty file": (lambda real, p: p.write_bytes(b""), "is not a readable docmodel checkpoint"),
    "first half": (
        lambda real, p: p.write_bytes(real.read_bytes()[: real.stat().st_size // 2]),
        "is not a readable docmodel checkpoint (truncated or corrupt",
    ),
    "all but the last byte": (
        lambda real, p: p.write_bytes(real.read_bytes()[:-1]),
        "is not a readable docmodel checkpoint (truncated or corrupt",
    ),
    "zip of a text file": (lambda real, p: zip_of_text(p), "is not a readable docmodel checkpoint"),
    "json text": (
        lambda real, p: p.write_text(json.dumps({"format": "docmodel-model"})),
        "is not a",
    ),
    "a PNG renamed .pt": (
        lambda real, p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),
        "model.pt is not a docmodel model file (expected a .pt checkpoint saved by docmodel or the "
        "Models page)",
    ),
    "a saved list": (lambda real, p: torch.save([1, 2, 3], p), "is not a docmodel checkpoint"),
    "another format": (
        lambda real, p: rewritten(real, p, lambda d: d.update(format="other")),
        "is not a docmodel checkpoint",
    ),
    "version 2": (
        lambda real, p: rewritten(real, p, lambda d: d.update(format_version=2)),
        "has checkpoint format version 2; this docmodel reads version 1",
    ),
    "version '1' as text": (
        lambda real, p: rewritten(real, p, lambda d: d.update(format_version="1")),
        "has checkpoint format version '1'; this docmodel reads version 1",
    ),
    "no version": (
        lambda real, p: rewritten(real, p, lambda d: d.pop("format_version")),
        "has checkpoint format version None",
    ),
    "unknown kind": (
        lambda real, p: rewritten(real, p, lambda d: d.update(kind="gpt")),
        "unknown model kind 'gpt'",
    ),
    "no state": (
        lambda real, p: rewritten(real, p, lambda d: d.pop("state")),
        "is malformed: 'state' is missing",
    ),
    "state of the wrong shape": (
        lambda real, p: rewritten(
            real, p, lambda d: d["state"].update({k: v[:1] for k, v in d["state"].items()})
        ),
        "checkpoint is malformed or from an incompatible version",
    ),
    "vocabulary of the wrong length": (
        lambda real, p: rewritten(real, p, lambda d: d.update(vocabulary=["a", "b"])),
        "checkpoint vocabulary has 2 words but the model has 32",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_model_files_get_a_clear_message(models, tmp_path, name):
    make, message = BROKEN[name]
    path = tmp_path / "model.pt"
    make(models["sbn"], path)
    with pytest.raises(ModelError) as info:
        load_model(path)
    assert message in str(info.value) and "\n" not in str(info.value)
    code, err = cli("evaluate", tmp_path, models["corpus"], "--split", "train")
    assert_one_line_exit_2(code, err, "evaluate", message)


def test_a_folder_without_a_model_file(models, tmp_path):
    code, err = cli("topics", tmp_path)
    assert_one_line_exit_2(code, err, "topics", f"model file not found: {tmp_path / 'model.pt'}")


@pytest.mark.parametrize("saved, wanted", [("sbn", LDATopicModel), ("lda", SBNTopicModel)])
def test_a_model_of_the_other_kind_is_named(models, saved, wanted):
    with pytest.raises(ModelError, match=f"holds a '{saved}' model, not '{wanted.kind}'"):
        wanted.load(models[saved])


@pytest.mark.parametrize("kind", ["sbn", "lda"])
@PROPERTY
@given(data=st.data())
def test_damaged_checkpoints_load_or_raise_model_error(models, kind, data):
    raw = bytearray(models[kind].read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(raw) - 1))
        patch = data.draw(st.binary(min_size=1, max_size=8))
        raw[start : start + len(patch)] = patch
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    with time_limit():
        try:
            model = load_model(io.BytesIO(bytes(raw)))
        except ModelError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
    assert model.kind == kind


PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats() | st.text(max_size=5)
    | st.sampled_from([torch.zeros(0), torch.ones(2, 2), torch.full((3,), float("nan"))]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=5,
)


def paths_in(data, prefix=()):
    """Every key path of a nested dict."""
    for key, value in data.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from paths_in(value, (*prefix, key))


@pytest.mark.parametrize("kind", ["sbn", "lda"])
@PROPERTY
@given(data=st.data())
def test_plain_data_checkpoints_with_wrong_fields_load_or_raise_model_error(models, kind, data):
    """Well-formed files whose fields hold the wrong things (a stranger's plain data)."""
    checkpoint = torch.load(models[kind], weights_only=True)
    paths = sorted(p for p in paths_in(checkpoint) if p[0] not in ("format", "format_version"))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent = checkpoint
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        if data.draw(st.booleans()):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = data.draw(PLAIN)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    with time_limit():
        try:
            model = load_model(buffer)
            model.transform(models["X"][:3])
            model.top_words(3)
        except ModelError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
    assert model.kind == kind


# --- vocabulary mismatch -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["sbn", "lda"])
@pytest.mark.parametrize("other", ["same size, other order", "other size"])
def test_evaluating_on_another_vocabulary_is_refused_with_the_remedy(models, tmp_path, kind, other):
    X, vocab = models["X"], models["vocab"]
    if other == "other size":
        vocab2, X2 = Vocabulary(vocab.words[:-2]), X[:, :-2]
    else:
        vocab2, X2 = Vocabulary(tuple(reversed(vocab.words))), X[:, ::-1]
    Dataset(Corpus(X2, vocab2, [f"d{i}" for i in range(X.shape[0])])).save(tmp_path / "c")
    code, err = cli("evaluate", models[kind].parent, tmp_path / "c", "--split", "train")
    assert_one_line_exit_2(
        code, err, "evaluate",
        f"the corpus vocabulary ({len(vocab2)} words) differs from the model's ({len(vocab)} words); "
        "prepare the documents with the model's vocabulary",
    )

    # The remedy the message gives works: the same documents prepared on the model's vocabulary.
    texts = [" ".join(np.repeat(vocab2.words, row)) for row in X2.toarray()]
    (tmp_path / "docs.txt").write_text("\n".join(texts) + "\n")
    code, err = cli("prepare", tmp_path / "docs.txt", "--vocab", models[kind].parent / "vocab.txt",
                    "--token-pattern", r"\S+", "--stopwords", "none", "--test-fraction", "0",
                    "-o", tmp_path / "fixed")
    assert code == 0, err
    code, err = cli("evaluate", models[kind].parent, tmp_path / "fixed", "--split", "train",
                    "--samples", "5")
    assert code == 0, err
