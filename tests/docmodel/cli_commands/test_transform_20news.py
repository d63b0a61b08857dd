"""``docmodel transform`` on raw 20 Newsgroups test posts reproduces, document for document, the
model's transform and bound on the prepared test split (issue 16).

A subset of the raw "bydate" tarball (``../shared/data/20news_bydate``) is unpacked into the
archive's own layout: the first posts of three groups from ``20news-bydate-train/`` and
``20news-bydate-test/``, plus test posts of those groups that are awkward: not UTF-8 (Latin-1
bytes), CRLF line ends, too short to keep. ``docmodel prepare`` splits the folder by its
train/test folders, with tokenizer settings and a shortest-document rule that differ from its
defaults; an SBN is trained on it through the CLI; then
``docmodel transform MODEL raw/20news-bydate-test --corpus CORPUS`` must give the prepared test
split's documents, in its order, with the same unit probabilities and bound perplexities.
"""

from __future__ import annotations

import tarfile

import numpy as np
import pandas as pd
import pytest

from corpora.corpus import Dataset
from docmodel.checkpoint import load_model
from docmodel.cli import main
from tests.conftest import shared_path

GROUPS = ("comp.graphics", "rec.sport.hockey", "sci.space")
N_TRAIN, N_TEST = 80, 30  # posts per group, first by file name
# test posts of GROUPS past the first N_TEST: two not UTF-8 (Latin-1 bytes), one with CRLF line
# ends, two with 2 tokens of the vocabulary (fewer than MIN_DOC_TOKENS) and one with none at all
AWKWARD = ("rec.sport.hockey/53879", "sci.space/61293", "comp.graphics/39009", "rec.sport.hockey/54715",
           "comp.graphics/38833", "rec.sport.hockey/54125")
MIN_DOC_TOKENS = 3
# settings the prepared corpus records and transform must take from --corpus
TOKENIZER = ["--strip-headers", "first-blank-line", "--strip-quotes", "--stem", "--extra-stopwords", "writes,article",
             "--min-doc-tokens", str(MIN_DOC_TOKENS)]
N_UNITS = 5


def unpack_subset(folder):
    """Write the chosen posts of the tarball under ``folder`` in its own layout."""
    wanted = {"train": N_TRAIN, "test": N_TEST}
    taken: dict[tuple[str, str], int] = {}
    with tarfile.open(shared_path("20news_bydate", "20news-bydate.tar.gz")) as tar:
        for member in sorted((m for m in tar if m.isfile()), key=lambda m: m.name):
            top, group, _ = member.name.split("/")
            split = top.removeprefix("20news-bydate-")
            if group not in GROUPS:
                continue
            first = taken.get((split, group), 0) < wanted[split]
            if first or (split == "test" and member.name.endswith(AWKWARD)):
                taken[(split, group)] = taken.get((split, group), 0) + 1
                path = folder / member.name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(tar.extractfile(member).read())
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("news20")
    raw = unpack_subset(root / "raw")
    corpus, model = root / "corpus", root / "model"
    assert main(["prepare", str(raw), "-o", str(corpus), *TOKENIZER]) == 0
    assert main(["train", str(corpus), "-o", str(model), "--units", str(N_UNITS), "--epochs", "1",
                 "--seed", "0"]) == 0
    return raw, corpus, model


def test_raw_test_posts_score_as_the_prepared_test_split(trained, tmp_path, capsys):
    raw, corpus_dir, model_dir = trained
    data = Dataset.load(corpus_dir)
    test = data.test
    assert data.info["split"] == "source folders (train/test)"
    posts = sorted(str(f.relative_to(raw)) for f in (raw / "20news-bydate-test").rglob("*") if f.is_file())
    split = data.info["splits"]["test"]
    assert split["n_loaded"] == len(posts) > len(GROUPS) * N_TEST
    assert {f"20news-bydate-test/{name}" for name in AWKWARD[:3]} <= set(test.doc_ids)
    assert not {f"20news-bydate-test/{name}" for name in AWKWARD[3:]} & set(test.doc_ids)
    assert split["n_dropped_short"] >= 3

    out = tmp_path / "scored.csv"
    capsys.readouterr()
    code = main(["transform", str(model_dir), str(raw / "20news-bydate-test"), "-o", str(out),
                 "--corpus", str(corpus_dir)])
    said = capsys.readouterr()
    assert code == 0, said.err
    table = pd.read_csv(out, dtype={"doc_id": str, "label": str})

    # the same documents, in the same order, with their groups as labels
    assert ["20news-bydate-test/" + i for i in table["doc_id"]] == list(test.doc_ids)
    assert list(table["label"]) == list(test.labels)
    assert list(table["n_tokens"]) == test.doc_lengths.tolist()
    assert f"{len(table):,} documents scored with the sbn model ({N_UNITS} units)" in said.out
    assert (f"{split['n_tokens']:,} tokens in the model's vocabulary, "
            f"{split['n_tokens_outside_vocabulary']:,} outside it") in said.out
    assert f"{split['n_dropped_short']} documents left out: fewer than {MIN_DOC_TOKENS} words" in said.out
    assert ("left out: no word of the model's vocabulary" in said.out) == (split["n_dropped_empty"] > 0)

    # the same values: the model's transform and bound on the prepared split
    model = load_model(model_dir)
    columns = [f"q_unit_{k}" for k in range(N_UNITS)]
    np.testing.assert_allclose(table[columns].to_numpy(), model.transform(test.X), rtol=1e-6, atol=1e-9)
    bound = model.log_likelihood_bound(test.X, random_state=0)
    np.testing.assert_allclose(table["perplexity_bound"], np.exp(-bound / test.doc_lengths), rtol=1e-6)


def test_without_the_corpus_settings_the_posts_are_tokenized_otherwise(trained, tmp_path):
    """The check above can fail: prepare's defaults (no stemming, headers kept) give other counts."""
    raw, corpus_dir, model_dir = trained
    out = tmp_path / "scored.csv"
    assert main(["transform", str(model_dir), str(raw / "20news-bydate-test"), "-o", str(out)]) == 0
    test = Dataset.load(corpus_dir).test
    table = pd.read_csv(out, dtype={"doc_id": str})
    by_id = dict(zip("20news-bydate-test/" + table["doc_id"], table["n_tokens"]))
    assert sum(by_id.get(i) != n for i, n in zip(test.doc_ids, test.doc_lengths)) > test.n_docs // 2
