"""Shared by the benchmark scripts: locating ../shared/data, loading a benchmark split, timing."""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED_DATA = Path(os.environ.get("DOCMODEL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def load_benchmark(name: str):
    """Train and test Corpus of a bag-of-words benchmark in ../shared/data (``20news_nvdm`` or
    ``20news_prodlda``)."""
    from corpora.bow import load_feat

    folder = Path(name) if Path(name).is_dir() else SHARED_DATA / name
    train_file = folder / "train_rebuilt.feat"
    if not train_file.exists():
        train_file = folder / "train.feat"
    if not train_file.exists():
        sys.exit(f"benchmark data not found in {folder}: expected train.feat or train_rebuilt.feat")
    vocab = folder / "vocab.new"
    return load_feat(train_file, vocab), load_feat(folder / "test.feat", vocab)


def add_split_arguments(p) -> None:
    """The options of the benchmarks that train on a training split less validation documents."""
    p.add_argument("--data", default="20news_nvdm", help="bag-of-words benchmark in ../shared/data or a path")
    p.add_argument("--corpus", help="a corpus directory made by 'docmodel prepare' (instead of --data)")
    p.add_argument("--units", type=int, default=50)
    p.add_argument("--epochs", type=int, default=100, help="SBN epochs (default 100)")
    p.add_argument("--val-docs", type=int, default=1000, help="training documents held out to choose on")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json")


def load_validation_split(data: str, corpus: str | None, val_docs: int, seed: int):
    """A benchmark (``data``) or a prepared corpus directory (``corpus``), its non-empty training
    documents split at random (seeded) into ``val_docs`` validation documents and the rest.

    Returns ``(train, test, X, X_val, name)``: the training and test Corpus, the training and
    validation count matrices, and the data's name.
    """
    if corpus:
        from corpora.corpus import Dataset

        dataset = Dataset.load(corpus)
        train, test, name = dataset.train, dataset.test, corpus
    else:
        train, test = load_benchmark(data)
        name = data
    return (train, test, *validation_split(train.X, val_docs, seed), name)


def validation_split(X, val_docs: int, seed: int):
    """The non-empty rows of count matrix ``X`` split at random (seeded) into the rest and
    ``val_docs`` validation documents: ``(X_rest, X_val)``, each in its original row order."""
    import numpy as np

    X_all = X[np.asarray(X.sum(axis=1)).ravel() > 0]
    perm = np.random.default_rng(seed).permutation(X_all.shape[0])
    return X_all[np.sort(perm[val_docs:])], X_all[np.sort(perm[:val_docs])]


def batch_size_arg(text: str) -> int | str:
    """``--batch-size``: a positive integer or ``auto`` (the estimator's default)."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"batch size must be a positive integer or 'auto', got {text!r}")
    return value


def mean_field_steps_arg(text: str) -> int | str:
    """``--mean-field-steps``: ``auto`` or a whole number (``SBNTopicModel``'s ``mean_field_steps``)."""
    from docmodel.cli_commands._common import mean_field_steps_arg as parse

    return parse(text)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_json(path: str | None, data: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2, default=float) + "\n")
        print(f"wrote {path}")


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """Plain-text table: columns are (key, header, format)."""
    head = "  ".join(f"{h:>{max(len(h), 10)}}" if i else f"{h:<22}" for i, (_, h, _) in enumerate(columns))
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = []
        for i, (k, h, f) in enumerate(columns):
            v = r.get(k)
            s = "-" if v is None else format(v, f)
            cells.append(f"{s:>{max(len(h), 10)}}" if i else f"{s:<22}")
        lines.append("  ".join(cells))
    return "\n".join(lines)


def refined_bound(model, X, steps: int, seed: int, learning_rate: float | None = None) -> dict:
    """An SBN's 10-sample bound on ``X``'s non-empty documents, plain and with q refined per
    document for ``steps`` steps (``SBNTopicModel.log_likelihood_bound``), as perplexities per
    document: ``perplexity_bound``, ``perplexity_bound_refined``, ``refine_steps``,
    ``refine_seconds``. The refined one is not the NVIL paper's protocol: report it apart."""
    import time

    import numpy as np

    from docmodel.evaluation import doc_lengths, perplexity_from_log_likelihood

    lengths = doc_lengths(X)
    kept = np.flatnonzero(lengths > 0)
    plain = model.log_likelihood_bound(X[kept], random_state=seed)
    t0 = time.perf_counter()
    refined = model.log_likelihood_bound(X[kept], random_state=seed, refine_steps=steps,
                                         **({} if learning_rate is None else {"refine_learning_rate": learning_rate}))
    return {"perplexity_bound": perplexity_from_log_likelihood(plain, lengths[kept]),
            "perplexity_bound_refined": perplexity_from_log_likelihood(refined, lengths[kept]),
            "refine_steps": steps, "refine_seconds": time.perf_counter() - t0}
