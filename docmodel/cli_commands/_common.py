"""Helpers shared by the command-line verbs: a text progress bar and corpus/model loading."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from corpora.errors import CorpusError


class ProgressBar:
    """A one-line progress bar on stderr, fed by the training callback's metrics."""

    def __init__(self, label: str, stream=None, width: int = 28):
        self.label, self.stream, self.width = label, stream or sys.stderr, width
        self.t0 = time.perf_counter()
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.last_line = 0.0

    def __call__(self, m: dict) -> None:
        frac = float(m.get("progress", 0.0))
        elapsed = time.perf_counter() - self.t0
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        filled = int(round(frac * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        parts = [f"{self.label} [{bar}] {100 * frac:5.1f}%", f"{elapsed:6.0f}s elapsed"]
        if eta == eta:
            parts.append(f"~{eta:.0f}s left (at most)")
        if "epoch" in m:
            parts.append(f"epoch {m['epoch']}")
        val = m.get("val_perplexity_bound")
        if val is not None:
            parts.append(f"val perplexity (bound) {val:.1f}")
        line = "  ".join(parts)
        if self.tty:
            self.stream.write("\r" + line[:160].ljust(160))
            self.stream.flush()
        elif time.perf_counter() - self.last_line > 5 or frac >= 1:
            self.stream.write(line + "\n")
            self.last_line = time.perf_counter()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def load_dataset(corpus_dir: str):
    from corpora.corpus import Dataset

    return Dataset.load(corpus_dir)


def pick_split(dataset, split: str):
    if split == "train":
        return dataset.train
    if split == "test":
        if dataset.test is None:
            raise CorpusError("this corpus has no test split; use --split train or prepare it with --test-fraction")
        return dataset.test
    raise CorpusError(f"--split must be train or test, got {split!r}")


def check_same_vocabulary(model, corpus) -> None:
    """Refuse to score a corpus whose word ids mean something else than the model's."""
    vocab = getattr(model, "vocabulary_", None)
    if vocab is not None and tuple(vocab.words) != tuple(corpus.vocabulary.words):
        raise CorpusError(
            f"the corpus vocabulary ({len(corpus.vocabulary)} words) differs from the model's "
            f"({len(vocab)} words); prepare the documents with the model's vocabulary: "
            "docmodel prepare SOURCE --vocab MODEL_DIR/vocab.txt -o DIR"
        )


def write_json(path: str | None, data: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2, default=float) + "\n", encoding="utf-8")


def add_unit_options(p) -> None:
    """The SBN's options for readable units (see ``SBNTopicModel``), shared by train and compare."""
    p.add_argument(
        "--prior-logit", type=float, metavar="A",
        help="SBN: fix every unit's prior logit at A (e.g. -2: a sparse prior, units on in about 12%% of "
        "documents a priori); default: learned",
    )
    p.add_argument(
        "--nonnegative", action="store_true",
        help="SBN: unit-word weights U >= 0 (a unit can only add words)",
    )
    p.add_argument(
        "--fixed-background", action="store_true",
        help="SBN: keep the word bias at the log unigram frequencies (units model deviations from them)",
    )
    p.add_argument(
        "--weight-l1", type=float, default=0.0, metavar="RATE",
        help="SBN: Laplace prior (L1 penalty) on U with this rate; about the number of documents of "
        "evidence a word needs before a unit takes it (default 0: off)",
    )


def unit_params(args) -> dict:
    """Estimator parameters of :func:`add_unit_options`, only those set away from the defaults."""
    out = {}
    if args.prior_logit is not None:
        out["prior_logit"] = args.prior_logit
    if args.nonnegative:
        out["nonnegative"] = True
    if args.fixed_background:
        out["fixed_background"] = True
    if args.weight_l1:
        out["weight_l1"] = args.weight_l1
    return out
