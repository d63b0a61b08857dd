"""One NVIL epoch and the bound evaluation on a synthetic corpus of RCV1's size.

RCV1-v2 as the NVIL paper uses it has about 800,000 documents over 10,000 words, 75 tokens per
document on average. The synthetic corpus has those sizes: documents are drawn from an LDA-like
generator (50 topics, each a Dirichlet draw around a Zipfian word distribution, document topic
proportions from a sparse Dirichlet, lengths from a log-normal with mean 75), in chunks of
documents straight into a CSR int32 matrix, so that the dense corpus never exists. ``--cache
DIR`` writes the CSR arrays there as ``.npy`` files, and later runs memory-map them instead of
generating again.

Then, in one process: the SBN-50 estimator is fitted for one epoch (``SBNTopicModel.fit``, the
real training loop, which makes one dense minibatch at a time from the CSR rows) and the
10-sample bound is computed for ``--test-docs`` held-out documents, streaming over their rows
in batches. Printed: peak resident memory (``getrusage``), tokens and documents per second.
For the per-token comparison the same run also trains on ``20news_nvdm`` for ``--ref-seconds``.

Target: peak memory under 4 GB, and throughput per token within 25% of the 20 Newsgroups
figure. Note what a token costs: an NVIL step does work proportional to the vocabulary for
every document (the softmax over V words, and the dense input layers), so a 75-token document
over 10,000 words costs about 6.7 times more per token than a 100-token one over 2,000 words.
The table therefore also gives "vocabulary cells per second" (documents x V per second), the
rate that is comparable across the two corpora.

    .venv/bin/python benchmarks/scale.py                      # full size, several minutes
    .venv/bin/python benchmarks/scale.py --docs 50000         # a quick run
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from _common import load_benchmark, peak_rss_mb, table, write_json


def synthetic_corpus(n_docs: int, n_words: int = 10000, mean_length: float = 75.0, n_topics: int = 50,
                     seed: int = 0, chunk: int = 20000):
    """A CSR int32 count matrix (n_docs, n_words) drawn from an LDA-like generator, chunk by chunk.

    Memory: the output's arrays plus one chunk's tokens (``chunk`` x mean_length entries).
    """
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, n_words + 1) ** 1.05
    base = rng.permutation(zipf / zipf.sum())
    topics = rng.dirichlet(base * n_words * 0.05 + 1e-3, size=n_topics)  # K x V, each around the base
    cum_topics = np.cumsum(topics, axis=1)
    cum_topics[:, -1] = 1.0
    cum_topics = (cum_topics + np.arange(n_topics)[:, None]).ravel()  # the same trick as below
    sigma = 0.6
    indptr = [np.zeros(1, dtype=np.int64)]
    indices, data = [], []
    nnz = 0
    for lo in range(0, n_docs, chunk):
        n = min(chunk, n_docs - lo)
        lengths = np.maximum(1, rng.lognormal(np.log(mean_length) - sigma**2 / 2, sigma, n).round().astype(np.int64))
        theta = rng.dirichlet(np.full(n_topics, 0.1), size=n)  # n x K
        # Each document's cumulative proportions, shifted by its index, form one increasing
        # sequence: one searchsorted draws every token's topic without a tokens x K array.
        cum_theta = np.cumsum(theta, axis=1)
        cum_theta[:, -1] = 1.0
        cum_theta += np.arange(n)[:, None]
        doc = np.repeat(np.arange(n), lengths)
        pos = np.searchsorted(cum_theta.ravel(), doc + rng.random(len(doc)), side="right")
        topic = np.minimum(pos - doc * n_topics, n_topics - 1)
        keys = topic + rng.random(len(doc))
        order = np.argsort(keys)  # sorted queries make searchsorted walk the table in order
        word = np.empty(len(doc), dtype=np.int64)
        word[order] = np.searchsorted(cum_topics, keys[order], side="right")
        word = np.minimum(word - topic * n_words, n_words - 1)
        keys, counts = np.unique(doc * n_words + word, return_counts=True)
        rows = keys // n_words
        indices.append((keys % n_words).astype(np.int32))
        data.append(counts.astype(np.int32))
        indptr.append(nnz + np.cumsum(np.bincount(rows, minlength=n)))
        nnz += len(keys)
    return sp.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.concatenate(indptr)), shape=(n_docs, n_words)
    )


def load_or_make(args):
    import numpy as np
    import scipy.sparse as sp

    if args.cache:
        folder = Path(args.cache)
        tag = f"rcv1like_{args.docs}_{args.words}_{args.seed}"
        files = [folder / f"{tag}_{name}.npy" for name in ("indptr", "indices", "data")]
        if all(f.exists() for f in files):
            indptr, indices, data = (np.load(f, mmap_mode="r") for f in files)
            return sp.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, args.words)), "memory-mapped"
    X = synthetic_corpus(args.docs, args.words, seed=args.seed)
    if args.cache:
        folder.mkdir(parents=True, exist_ok=True)
        for f, arr in zip(files, (X.indptr, X.indices, X.data)):
            np.save(f, arr)
    return X, "generated"


def rate_of(model, X_train) -> dict:
    """Training throughput of a fitted model's epochs (validation excluded)."""
    import numpy as np

    docs_per_second = float(np.median([h["docs_per_second"] for h in model.history_]))
    tokens_per_doc = float(X_train.sum()) / X_train.shape[0]
    return {
        "docs_per_second": docs_per_second,
        "tokens_per_second": docs_per_second * tokens_per_doc,
        "cells_per_second": docs_per_second * X_train.shape[1],
        "tokens_per_doc": tokens_per_doc,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=800_000)
    p.add_argument("--words", type=int, default=10_000)
    p.add_argument("--test-docs", type=int, default=20_000, help="held-out documents scored with the bound")
    p.add_argument("--ref-seconds", type=float, default=20.0, help="20news_nvdm training time for the reference")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--cache", help="folder for the corpus's .npy arrays (memory-mapped when present)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json")
    args = p.parse_args()

    import numpy as np
    import torch

    from docmodel.evaluation import perplexity_from_log_likelihood
    from docmodel.models.sbn.estimator import SBNTopicModel

    torch.set_num_threads(args.threads)

    os.environ["DOCMODEL_THREADS"] = str(args.threads)  # fit follows it (docmodel.threads)
    load = os.getloadavg()
    print(f"{args.threads} threads; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")

    t = time.perf_counter()
    X, how = load_or_make(args)
    make_seconds = time.perf_counter() - t
    n_tokens = int(X.sum())
    print(f"synthetic corpus ({how} in {make_seconds:.1f}s): {X.shape[0]:,} documents, {X.shape[1]:,} words, "
          f"{n_tokens / X.shape[0]:.1f} tokens and {X.nnz / X.shape[0]:.1f} distinct words per document, "
          f"{(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 1e6:.0f} MB as CSR; peak RSS so far {peak_rss_mb():.0f} MB")
    n_test = min(args.test_docs, X.shape[0] // 10)
    X_train, X_test = X[n_test:], X[:n_test]

    model = SBNTopicModel.preset("perplexity", n_units=50, max_epochs=1, patience=10, n_val_docs=1000, random_state=args.seed, device=args.device)
    t = time.perf_counter()
    model.fit(X_train)
    fit_seconds = time.perf_counter() - t
    big = rate_of(model, X_train)
    t = time.perf_counter()
    log_p = model.log_likelihood_bound(X_test)
    eval_seconds = time.perf_counter() - t
    test_perplexity = perplexity_from_log_likelihood(log_p, np.asarray(X_test.sum(axis=1)).ravel())
    peak = peak_rss_mb()
    print(f"one epoch on {X_train.shape[0]:,} documents: {fit_seconds:.0f}s in fit; bound of {n_test:,} test documents "
          f"in {eval_seconds:.1f}s ({n_test / eval_seconds:,.0f} docs/s), perplexity (bound) {test_perplexity:.0f}; "
          f"peak RSS {peak:.0f} MB")

    train, _ = load_benchmark("20news_nvdm")
    ref_model = SBNTopicModel.preset("perplexity", n_units=50, max_epochs=100000, max_seconds=args.ref_seconds, patience=100000,
                              random_state=args.seed, device=args.device)
    ref_model.fit(train.X)
    ref = rate_of(ref_model, train.X)

    rows = [{"corpus": "synthetic RCV1 size", **big}, {"corpus": "20news_nvdm", **ref}]
    print()
    print(table(rows, [
        ("corpus", "corpus", "s"), ("tokens_per_doc", "tokens/doc", ".1f"), ("docs_per_second", "docs/s", ",.0f"),
        ("tokens_per_second", "tokens/s", ",.0f"), ("cells_per_second", "doc x V /s", ",.0f"),
    ]))
    token_ratio = big["tokens_per_second"] / ref["tokens_per_second"]
    cell_ratio = big["cells_per_second"] / ref["cells_per_second"]
    end = os.getloadavg()
    print(f"\npeak RSS {peak:.0f} MB (target < 4096: {'met' if peak < 4096 else 'NOT met'}); tokens/s "
          f"{token_ratio:.2f} of 20 Newsgroups (target >= 0.75: {'met' if token_ratio >= 0.75 else 'NOT met'}); "
          f"documents x vocabulary per second {cell_ratio:.2f} of 20 Newsgroups; load average at the end {end[0]:.2f}")
    write_json(args.json, {
        "docs": X.shape[0], "words": X.shape[1], "tokens": n_tokens, "nnz": int(X.nnz), "corpus": how,
        "make_seconds": make_seconds, "fit_seconds": fit_seconds, "eval_seconds": eval_seconds,
        "test_docs": n_test, "test_perplexity_bound": test_perplexity,
        "peak_rss_mb": peak, "tokens_per_second": big["tokens_per_second"], "docs_per_second": big["docs_per_second"],
        "cells_per_second": big["cells_per_second"],
        "ref_20news": ref, "tokens_per_second_ratio": token_ratio, "cells_per_second_ratio": cell_ratio,
        "threads": args.threads, "load_average_start": load, "load_average_end": end,
    })


if __name__ == "__main__":
    main()
