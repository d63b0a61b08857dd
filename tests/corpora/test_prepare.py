"""prepare(): splits, vocabulary on the training split only, fixed vocabularies, dropped
documents, bag-of-words inputs, and agreement with scikit-learn's CountVectorizer."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

from corpora.corpus import Dataset
from corpora.documents import Document
from corpora.errors import CorpusError
from corpora.prepare import PrepareOptions, prepare
from corpora.tokenize import DEFAULT_TOKEN_PATTERN, english_stopwords
from corpora.vocabulary import Vocabulary
from tests.conftest import shared_path

ALL = dict(min_df=1, max_df=1.0, max_words=None, stopwords="none", test_fraction=0.0)


def docs(*texts: str, prefix: str = "d", labels=None) -> list[Document]:
    labels = labels or [None] * len(texts)
    return [Document(f"{prefix}{i}", t, lab) for i, (t, lab) in enumerate(zip(texts, labels))]


def words_of(corpus, row: int) -> dict[str, int]:
    x = corpus.X[row]
    return {corpus.vocabulary.words[j]: int(c) for j, c in zip(x.indices, x.data)}


def test_vocabulary_is_built_on_the_training_split_only():
    train = docs("apple banana apple", "banana cherry")
    test = docs("apple durian durian", "zebra", prefix="t")
    data = prepare(train, test=test, options=PrepareOptions(**ALL))
    assert data.vocabulary.words == ("apple", "banana", "cherry")
    assert words_of(data.test, 0) == {"apple": 1}
    assert data.test.doc_ids == ("t0",)
    assert data.info["splits"]["test"] == {
        "n_loaded": 2,
        "n_dropped_short": 0,
        "n_dropped_empty": 1,
        "n_docs": 1,
        "n_tokens": 1,
        "n_tokens_outside_vocabulary": 3,  # "durian" twice (the vocabulary is the training split's) and "zebra"
    }
    assert (
        data.info["n_dropped_empty"] == 1
        and data.info["vocabulary"] == "built from the training split"
    )


def test_given_vocabulary_keeps_its_ids_and_drops_unknown_words():
    vocab = Vocabulary(("zebra", "apple", "yak"))
    data = prepare(
        docs("apple mango zebra zebra", "mango"), vocabulary=vocab, options=PrepareOptions(**ALL)
    )
    assert data.vocabulary is vocab
    assert data.train.X.toarray().tolist() == [[2, 1, 0]]
    assert (
        data.info["splits"]["train"]["n_dropped_empty"] == 1 and data.info["vocabulary"] == "given"
    )


def test_vocabulary_file_path_is_accepted(tmp_path):
    (tmp_path / "v.txt").write_text("apple\nmango\n")
    data = prepare(
        docs("mango apple apple"), vocabulary=tmp_path / "v.txt", options=PrepareOptions(**ALL)
    )
    assert data.train.X.toarray().tolist() == [[2, 1]]


def test_min_doc_tokens_counts_tokens_before_vocabulary_filtering():
    vocab = Vocabulary(("apple",))
    options = PrepareOptions(**{**ALL, "min_doc_tokens": 2})
    data = prepare(
        docs("apple mango", "apple", "mango kiwi", "apple apple"), vocabulary=vocab, options=options
    )
    # d1 has one token: too short. d2 has two tokens, none in the vocabulary: empty.
    assert data.train.doc_ids == ("d0", "d3")
    assert data.info["splits"]["train"]["n_dropped_short"] == 1
    assert data.info["splits"]["train"]["n_dropped_empty"] == 1


def test_filters_and_defaults_for_users():
    texts = ["the cat sat on the mat"] * 3 + ["a dog and a cat", "unique words here"]
    data = prepare(docs(*texts), options=PrepareOptions(test_fraction=0.0))
    # english stop words go; min_df=2 drops words of one document; max_df=0.95 drops nothing here.
    assert set(data.vocabulary.words) == {"cat", "sat", "mat"}
    assert data.info["splits"]["train"]["n_dropped_empty"] == 1
    assert data.train.texts == tuple(texts[:4]) and data.train.labels is None


def test_stemming_merges_columns():
    data = prepare(docs("running runs run", "runner"), options=PrepareOptions(**ALL, stem=True))
    assert data.vocabulary.words == ("run", "runner")
    assert data.train.X.toarray().tolist() == [[3, 0], [0, 1]]


def test_bigrams_learned_on_train_are_applied_to_test():
    filler = [
        " ".join(f"w{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}x{chr(97 + k)}" for i in range(10))
        for k in range(26)
    ]
    train = ["visit new york city and new york state"] * 20 + filler + ["new ideas in old york"]
    options = PrepareOptions(**{**ALL, "bigrams": True, "token_pattern": r"\w+"})
    data = prepare(
        docs(*train), test=docs("new york again", "new kids in york", prefix="t"), options=options
    )
    assert "new_york" in data.vocabulary and data.info["n_bigram_phrases"] >= 1
    assert words_of(data.test, 0) == {"new_york": 1}
    assert words_of(data.test, 1) == {"new": 1, "in": 1, "york": 1}


def test_learned_phrases_are_saved_with_the_corpus_and_load_back(tmp_path):
    options = PrepareOptions(bigrams=True, test_fraction=0.2)
    data = prepare("lee", options=options)
    phrases = data.info["options"]["phrases"]
    assert data.info["bigram_phrases"] == "learned from the training split"
    assert len(phrases) == data.info["n_bigram_phrases"] > 20 and ["asylum_seekers", phrases[0][1]] in phrases
    assert {w for w in data.vocabulary.words if "_" in w} <= {p for p, _ in phrases}
    assert "prime_minister" in data.vocabulary
    back = Dataset.load(data.save(tmp_path / "lee"))
    meta = json.loads((tmp_path / "lee" / "meta.json").read_text(encoding="utf-8"))
    assert meta["info"]["options"]["phrases"] == phrases == back.info["options"]["phrases"]
    # prepared again with the saved options, nothing is learned and the corpus is the same
    again = prepare("lee", options=PrepareOptions(**back.info["options"]))
    assert again.info["bigram_phrases"] == "given" and again.info["options"] == data.info["options"]
    assert (again.train.X != data.train.X).nnz == 0 and (again.test.X != data.test.X).nnz == 0


def test_given_phrases_are_applied_to_other_documents_not_learned_from_them():
    phrases = [["big_apple", 20.0]]
    filler = [" ".join(f"w{i}x{k}" for i in range(10)) for k in range(30)]
    texts = ["new york"] * 20 + filler + ["a big apple"]
    settings = {**ALL, "bigrams": True, "token_pattern": r"\w+"}
    data = prepare(docs(*texts), options=PrepareOptions(**settings, phrases=phrases))
    assert "new_york" not in data.vocabulary and "big_apple" in data.vocabulary
    assert data.info["options"]["phrases"] == phrases and data.info["n_bigram_phrases"] == 1
    learned = prepare(docs(*texts), options=PrepareOptions(**settings))
    assert "new_york" in learned.vocabulary  # the check above can fail


def test_a_corpus_saved_before_phrases_were_saved_still_loads(tmp_path):
    data = prepare(docs("new york city", "new york state"), options=PrepareOptions(**ALL, bigrams=True))
    folder = data.save(tmp_path / "old")
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    del meta["info"]["options"]["phrases"]
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    back = Dataset.load(folder)
    assert back.info["options"]["bigrams"] and "phrases" not in back.info["options"]
    assert (back.train.X != data.train.X).nnz == 0


def test_random_split_is_seeded_complete_and_disjoint():
    texts = [f"word{chr(97 + i % 26)} common" for i in range(50)]
    options = PrepareOptions(**{**ALL, "test_fraction": 0.2, "token_pattern": r"\w+"})
    a = prepare(docs(*texts), options=options)
    b = prepare(docs(*texts), options=options)
    c = prepare(
        docs(*texts),
        options=PrepareOptions(**{**options.to_dict(), "seed": 1, "extra_stopwords": ()}),
    )
    assert (a.train.n_docs, a.test.n_docs) == (40, 10)
    assert a.test.doc_ids == b.test.doc_ids != c.test.doc_ids
    assert sorted(a.train.doc_ids + a.test.doc_ids) == sorted(f"d{i}" for i in range(50))
    assert list(a.test.doc_ids) == sorted(a.test.doc_ids, key=lambda d: int(d[1:]))
    assert a.info["split"] == "random (0.2, seed 0)"


def test_default_split_holds_out_a_fifth_and_zero_means_none():
    texts = [f"apple banana {w}" for w in ("cherry", "date", "egg", "fig", "grape")]
    assert (
        prepare(
            docs(*texts), options=PrepareOptions(stopwords="none", min_df=1, max_df=1.0)
        ).test.n_docs
        == 1
    )
    data = prepare(docs(*texts), options=PrepareOptions(**ALL))
    assert data.test is None and data.info["split"] == "none"


def test_bydate_folders_give_the_split():
    ids = [
        "20news-bydate-train/sci.space/1",
        "20news-bydate-train/rec.autos/2",
        "20news-bydate-test/sci.space/3",
    ]
    loaded = [Document(i, "space engine", i.split("/")[1]) for i in ids]
    data = prepare(loaded, options=PrepareOptions(**{**ALL, "test_fraction": None}))
    assert data.train.doc_ids == tuple(ids[:2]) and data.test.doc_ids == (ids[2],)
    assert (
        data.train.labels == ("sci.space", "rec.autos")
        and data.info["split"] == "source folders (train/test)"
    )
    with pytest.raises(CorpusError, match="also 1 documents in neither; give --test-fraction"):
        prepare(
            loaded + [Document("other/x", "space")],
            options=PrepareOptions(**{**ALL, "test_fraction": None}),
        )
    everything = prepare(loaded, options=PrepareOptions(**ALL))
    assert everything.test is None and everything.train.n_docs == 3


def test_nothing_left_errors_say_what_to_change():
    with pytest.raises(CorpusError) as info:
        prepare(docs("apple", "banana"), options=PrepareOptions(**{**ALL, "min_df": 5}))
    assert str(info.value) == (
        "no documents left after filtering: of 2 training documents, 0 had fewer than 1 tokens and 2 had no "
        "word in the vocabulary (0 words); the vocabulary is empty: lower --min-df (now 5) or raise --max-df"
    )
    with pytest.raises(CorpusError) as info:
        prepare(docs("12 34", "x"), options=PrepareOptions(**{**ALL, "min_doc_tokens": 1}))
    assert str(info.value) == (
        "no documents left after filtering: of 2 training documents, 2 had fewer than 1 tokens and 0 had no "
        "word in the vocabulary (0 words); no document has enough tokens: check --token-pattern, "
        "--min-token-length, --stopwords, --min-doc-tokens and the text column"
    )
    vocab = Vocabulary(("kiwi",))
    with pytest.raises(
        CorpusError,
        match=r"0 had fewer than 1 tokens and 1 had no word in the vocabulary \(1 words\); check",
    ):
        prepare(docs("apple"), vocabulary=vocab, options=PrepareOptions(**ALL))
    with pytest.raises(CorpusError, match="no documents left after filtering: of 1 test documents"):
        prepare(docs("apple"), test=docs("kiwi"), options=PrepareOptions(**ALL))


def test_nothing_left_errors_carry_their_reason_for_other_front_ends():
    from corpora.errors import NoDocumentsLeft

    with pytest.raises(NoDocumentsLeft) as info:
        prepare(docs("apple", "banana"), options=PrepareOptions(**{**ALL, "min_df": 5}))
    assert info.value.reason == "empty_vocabulary"
    with pytest.raises(NoDocumentsLeft) as info:
        prepare(docs("12 34", "x"), options=PrepareOptions(**{**ALL, "min_doc_tokens": 1}))
    assert info.value.reason == "too_short"
    with pytest.raises(NoDocumentsLeft) as info:
        prepare(docs("apple"), vocabulary=Vocabulary(("kiwi",)), options=PrepareOptions(**ALL))
    assert info.value.reason == "filtered"


def test_folder_source_records_skipped_files_and_labels(tmp_path):
    for group, name, text in [
        ("sci", "a", "orbit rocket"),
        ("sci", "b", "rocket fuel"),
        ("rec", "c", "car wheel"),
    ]:
        (tmp_path / group).mkdir(exist_ok=True)
        (tmp_path / group / name).write_text(text)
    (tmp_path / "rec" / "blob").write_bytes(bytes(range(256)) * 4)
    data = prepare(tmp_path, options=PrepareOptions(**ALL))
    assert data.train.labels == ("rec", "sci", "sci")
    assert data.info["n_skipped_files"] == 1 and data.info["skipped_files"][0][0] == "rec/blob"
    assert data.info["format"] == "folder" and data.info["source"] == str(tmp_path)


def test_keep_text_off():
    assert (
        prepare(docs("apple"), options=PrepareOptions(**ALL, keep_text=False)).train.texts is None
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(min_df=0), "min_df must be at least 1, got 0"),
        (dict(max_df=1.5), "max_df must be a fraction in (0, 1], got 1.5"),
        (dict(max_words=0), "max_words must be at least 1, got 0"),
        (dict(min_doc_tokens=0), "min_doc_tokens must be at least 1, got 0"),
        (dict(test_fraction=1.0), "test_fraction must be in [0, 1), got 1.0"),
        (dict(seed=-1), "seed must be at least 0, got -1"),
        (dict(stopwords="klingon"), "stopwords must be one of none, english; got 'klingon'"),
    ],
)
def test_option_validation(options, message):
    with pytest.raises(CorpusError) as info:
        PrepareOptions(**options)
    assert message in str(info.value)


def test_options_split_into_tokenizer_config_and_plain_json():
    options = PrepareOptions(stem=True, extra_stopwords=("x",), min_df=3)
    assert options.tokenizer_config.stem and not hasattr(options.tokenizer_config, "min_df")
    assert options.to_dict()["extra_stopwords"] == ["x"] and options.to_dict()["min_df"] == 3


# --- bag-of-words sources ----------------------------------------------------------------
@pytest.fixture
def feat_dir(tmp_path):
    (tmp_path / "vocab.new").write_text("who 1\nout 1\nwhich 1\n")
    (tmp_path / "train.feat").write_text("1 1:2 2:1\n2 3:1\n1 \n2 1:1\n")
    (tmp_path / "test.feat").write_text("1 2:5\n")
    return tmp_path


def test_feat_sources_with_vocab_beside_them(feat_dir):
    data = prepare(feat_dir / "train.feat", test=feat_dir / "test.feat")
    assert data.vocabulary.words == ("who", "out", "which")
    assert (data.train.n_docs, data.test.n_docs, data.info["n_dropped_empty"]) == (3, 1, 1)
    assert data.train.labels == ("1", "2", "2") and data.info["split"] == "test source"


def test_feat_min_doc_tokens_and_random_split(feat_dir):
    data = prepare(
        feat_dir / "train.feat", options=PrepareOptions(min_doc_tokens=2, test_fraction=0.0)
    )
    assert data.train.doc_ids == ("train-1",) and data.info["n_dropped_short"] == 2
    split = prepare(feat_dir / "train.feat", options=PrepareOptions(test_fraction=0.5))
    assert split.train.n_docs + split.test.n_docs == 3


def test_feat_source_errors(feat_dir):
    (feat_dir / "vocab.new").unlink()
    with pytest.raises(
        CorpusError,
        match="train.feat is a bag-of-words file \\(feat\\) and needs its vocabulary: give --vocab",
    ):
        prepare(feat_dir / "train.feat")
    (feat_dir / "a.txt").write_text("some words\n")
    with pytest.raises(CorpusError, match="the source is 'lines' but the test source is 'feat'"):
        prepare(feat_dir / "a.txt", test=feat_dir / "test.feat")


def test_missing_source():
    with pytest.raises(CorpusError, match="file not found: /no/such/corpus"):
        prepare("/no/such/corpus")


def test_prepared_dataset_round_trips(tmp_path):
    data = prepare(
        docs("apple banana", "banana kiwi", labels=["fruit", None]),
        test=docs("kiwi apple", prefix="t"),
        options=PrepareOptions(**ALL),
    )
    back = Dataset.load(data.save(tmp_path / "c"))
    assert back.train.labels == ("fruit", None) and back.test.texts == ("kiwi apple",)
    assert back.info["options"] == data.info["options"] and back.summary() == data.summary()


# --- agreement with scikit-learn ---------------------------------------------------------
def reuters_bodies(n_files: int = 2) -> list[str]:
    texts = []
    for k in range(n_files):
        raw = shared_path("reuters21578", f"reut2-{k:03d}.sgm").read_text(encoding="latin-1")
        for body in re.findall(r"<BODY>(.*?)</BODY>", raw, flags=re.S):
            texts.append(html.unescape(re.sub(r"&#\d+;", " ", body)))
    return texts


@pytest.mark.filterwarnings("ignore:Your stop_words may be inconsistent")
def test_same_vocabulary_and_counts_as_count_vectorizer():
    """Same words (as a set) and counts as CountVectorizer with the same settings.

    Both keep words with ``min_df <= df <= max_df * n_docs`` and then the ``max_words``
    most frequent by total count. CountVectorizer breaks ties at the cut arbitrarily, so the
    cut is placed where the counts differ. Column order differs by design: scikit-learn sorts
    its columns alphabetically, this vocabulary by decreasing count, then alphabetically.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    texts = reuters_bodies()
    assert len(texts) > 1500
    pattern, stop = DEFAULT_TOKEN_PATTERN, sorted(english_stopwords())
    settings = dict(lowercase=True, token_pattern=pattern, stop_words=stop, min_df=3, max_df=0.5)
    full = CountVectorizer(**settings).fit(texts)
    tf = np.asarray(full.transform(texts).sum(axis=0)).ravel()
    ranked = np.sort(tf)[::-1]
    max_words = next(n for n in range(1500, len(ranked)) if ranked[n - 1] > ranked[n])

    cv = CountVectorizer(**settings, max_features=max_words)
    expected = cv.fit_transform(texts).tocsr()
    options = PrepareOptions(
        token_pattern=pattern,
        stopwords="english",
        min_token_length=1,
        min_df=3,
        max_df=0.5,
        max_words=max_words,
        test_fraction=0.0,
    )
    data = prepare(docs(*texts), options=options)
    words = data.vocabulary.words
    assert set(words) == set(cv.vocabulary_) and len(words) == max_words
    sk_tf = np.asarray(expected.sum(axis=0)).ravel()
    assert list(words) == sorted(words, key=lambda w: (-sk_tf[cv.vocabulary_[w]], w))
    columns = [cv.vocabulary_[w] for w in words]
    rows = [int(d[1:]) for d in data.train.doc_ids]
    assert (expected[rows][:, columns] != data.train.X).nnz == 0
    dropped = np.setdiff1d(np.arange(len(texts)), rows)
    assert expected[dropped].nnz == 0 and len(dropped) == data.info["n_dropped_empty"]
