"""Time the text pipeline against scikit-learn's CountVectorizer on raw 20 Newsgroups.

Both run in this process on the same already-loaded training posts of the "bydate" tarball,
with the same settings: lowercase, words of two or more letters, the english stop-word list
(scikit-learn's together with gensim's), ``min_df=2``, ``max_df=0.95``, 2,000 words, no
stemming or phrases. The timed part is tokenize + vocabulary + count matrix (for
:func:`corpora.prepare.prepare` also building the :class:`~corpora.corpus.Corpus`), run
alternately, best of ``--repeat``; loading the tarball is timed once, separately. Peak memory is measured in separate runs under
``tracemalloc`` (which slows Python down, so those runs are not timed), and the process's
peak resident size is reported at the end.

    .venv/bin/python benchmarks/pipeline.py [--source PATH] [--repeat 3] [--json FILE]

Target: ``prepare`` takes at most 1.5 times as long as CountVectorizer.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpora.loaders import load_documents, split_of  # noqa: E402
from corpora.prepare import PrepareOptions, prepare  # noqa: E402
from corpora.tokenize import english_stopwords  # noqa: E402

DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "20news_bydate" / "20news-bydate.tar.gz"
TARGET_RATIO = 1.5
# Our pattern keeps words of letters and then drops those shorter than 2 characters;
# CountVectorizer has no length filter, so its pattern asks for two letters or more.
SKLEARN_PATTERN = r"(?u)\b(?!(?<=[^\W\d_]['’])(?i:s|t|d|m|ve|ll|re)\b)[^\W\d_][^\W\d_]+\b"


def run_ours(documents, options):
    return prepare(documents, options=options)


def run_sklearn(texts, stop_words):
    from sklearn.feature_extraction.text import CountVectorizer

    cv = CountVectorizer(
        lowercase=True,
        token_pattern=SKLEARN_PATTERN,
        stop_words=stop_words,
        min_df=2,
        max_df=0.95,
        max_features=2000,
    )
    return cv, cv.fit_transform(texts)


def timed_pair(first, second, repeat: int) -> tuple[list[float], list[float], object, object]:
    """Run ``first`` and ``second`` alternately ``repeat`` times each; their times and results.

    Alternating makes background load on the machine hit both pipelines alike.
    """
    times: tuple[list[float], list[float]] = ([], [])
    results: list[object] = [None, None]
    for _ in range(repeat):
        for k, fn in enumerate((first, second)):
            results[k] = None
            gc.collect()
            start = time.perf_counter()
            results[k] = fn()
            times[k].append(time.perf_counter() - start)
    return times[0], times[1], results[0], results[1]


def traced_peak(fn) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source", default=str(DEFAULT_SOURCE), help="20news-bydate tarball or folder"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs of each pipeline (default 3)"
    )
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    loaded = load_documents(args.source, encoding="latin-1")
    load_s = time.perf_counter() - start
    train = [d for d in loaded.documents if split_of(d.id) in ("train", None)]
    texts = [d.text for d in train]
    options = PrepareOptions(
        test_fraction=0.0, stopwords="english", min_df=2, max_df=0.95, max_words=2000
    )
    stop_words = sorted(english_stopwords())  # also warms the imports both pipelines use
    from sklearn.feature_extraction.text import CountVectorizer  # noqa: F401

    ours_s, sk_s, data, (cv, X) = timed_pair(
        lambda: run_ours(train, options), lambda: run_sklearn(texts, stop_words), args.repeat
    )
    ours_peak = traced_peak(lambda: run_ours(train, options))
    sk_peak = traced_peak(lambda: run_sklearn(texts, stop_words))

    ours_words, sk_words = set(data.vocabulary.words), set(cv.vocabulary_)
    figures = {
        "source": str(args.source),
        "n_docs": len(train),
        "n_chars": sum(map(len, texts)),
        "load_s": load_s,
        "repeat": args.repeat,
        "prepare_s": min(ours_s),
        "prepare_median_s": statistics.median(ours_s),
        "sklearn_s": min(sk_s),
        "sklearn_median_s": statistics.median(sk_s),
        "ratio": min(ours_s) / min(sk_s),
        "target_ratio": TARGET_RATIO,
        "prepare_peak_traced_mb": ours_peak / 2**20,
        "sklearn_peak_traced_mb": sk_peak / 2**20,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "n_words": len(ours_words),
        "n_words_sklearn": len(sk_words),
        "n_words_shared": len(ours_words & sk_words),
        "n_tokens": data.train.n_tokens,
        "n_tokens_sklearn": int(X.sum()),
    }
    print(
        f"20 Newsgroups train posts: {figures['n_docs']:,} ({figures['n_chars'] / 1e6:.1f} M characters)"
    )
    print(f"loading the tarball (once):  {load_s:7.2f} s")
    print(
        f"corpora.prepare:             {figures['prepare_s']:7.2f} s  (median {figures['prepare_median_s']:.2f})"
    )
    print(
        f"sklearn CountVectorizer:     {figures['sklearn_s']:7.2f} s  (median {figures['sklearn_median_s']:.2f})"
    )
    verdict = "meets" if figures["ratio"] <= TARGET_RATIO else "MISSES"
    print(
        f"ratio prepare / sklearn:     {figures['ratio']:7.2f}   ({verdict} the target <= {TARGET_RATIO})"
    )
    print(
        f"peak traced memory:          {figures['prepare_peak_traced_mb']:7.1f} MB prepare, "
        f"{figures['sklearn_peak_traced_mb']:.1f} MB sklearn"
    )
    print(f"process peak RSS:            {figures['max_rss_mb']:7.1f} MB")
    print(
        f"vocabulary: {figures['n_words']} words, {figures['n_words_shared']} shared with sklearn's "
        f"{figures['n_words_sklearn']} (ties at the cut may differ); tokens {figures['n_tokens']:,} "
        f"vs {figures['n_tokens_sklearn']:,}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
