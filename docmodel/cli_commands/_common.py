"""Helpers shared by the command-line verbs: a text progress bar and corpus/model loading."""

from __future__ import annotations

import argparse
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


class EstimatorDefaultsHelp(argparse.HelpFormatter):
    """Help that ends the text of an option made by :func:`estimator_option` with the default the
    estimator sets. The default is read from the estimator's signature (its one source) only when
    help is printed, so that parsing a command line never imports torch."""

    def _get_help_string(self, action):
        text = super()._get_help_string(action) or ""
        source = getattr(action, "estimator_default", None)
        if source is None:
            return text
        from docmodel.models import REGISTRY

        kind, param = source
        value = REGISTRY[kind].defaults()[param]
        if value is None or value is False:
            shown = "off"
        else:
            shown = "on" if value is True else f"{value:g}" if isinstance(value, float) else str(value)
        return text + f" (default {shown})".replace("%", "%%")


def estimator_option(p, *flags, kind: str = "sbn", param: str, **kwargs):
    """An option that sets estimator parameter ``param`` of model ``kind``. Left out, it is not
    passed (``None``), so the estimator's own default applies; help shows that default."""
    p.formatter_class = EstimatorDefaultsHelp
    action = p.add_argument(*flags, default=None, **kwargs)
    action.estimator_default = (kind, param)
    return action


def mean_field_steps_arg(text: str):
    """``--mean-field-steps``: ``auto`` or a whole number."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a whole number of updates, got {text!r}") from None


def given(args, names: dict[str, str]) -> dict:
    """Estimator parameters from the options the user gave: ``names`` maps each option's dest to
    its parameter; options left out (None) are not passed."""
    return {param: getattr(args, dest) for dest, param in names.items() if getattr(args, dest) is not None}


UNIT_OPTIONS = {"prior_logit": "prior_logit", "nonnegative": "nonnegative", "fixed_background": "fixed_background",
                "weight_l1": "weight_l1", "coherence_weight": "coherence_weight",
                "overlap_weight": "overlap_weight"}
LEARNED = "learned"


def prior_logit_arg(text: str):
    """``--prior-logit``: a number, or ``learned``."""
    if text == LEARNED:
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or {LEARNED!r}, got {text!r}") from None


def add_unit_options(p) -> None:
    """The SBN's options for readable units (see ``SBNTopicModel``), shared by train and compare."""
    from docmodel.models.sbn import PRESETS, preset_text

    p.add_argument(
        "--preset", choices=list(PRESETS),
        help="SBN: start from named settings; options given beside it override them. "
        + "; ".join(f"{name}: {preset_text(name)}" for name in PRESETS)
        + " (readable is the defaults: units that only add words and a sparse prior; perplexity is the NVIL "
        "paper's model: the best perplexity, units that form a distributed code rather than topics)",
    )
    estimator_option(
        p, "--prior-logit", type=prior_logit_arg, metavar="A", param="prior_logit",
        help="SBN: fix every unit's prior logit at A (-2.5: a sparse prior, units on in about 8%% of "
        f"documents a priori), or '{LEARNED}' to learn it",
    )
    estimator_option(
        p, "--nonnegative", action=argparse.BooleanOptionalAction, param="nonnegative",
        help="SBN: unit-word weights U >= 0 (a unit can only add words); --no-nonnegative lets units also "
        "remove words",
    )
    estimator_option(
        p, "--fixed-background", action=argparse.BooleanOptionalAction, param="fixed_background",
        help="SBN: keep the word bias at the log unigram frequencies (units model deviations from them)",
    )
    estimator_option(
        p, "--weight-l1", type=float, metavar="RATE", param="weight_l1",
        help="SBN: Laplace prior (L1 penalty) on U with this rate; about the number of documents of "
        "evidence a word needs before a unit takes it (0: off)",
    )
    estimator_option(
        p, "--coherence-weight", type=float, metavar="W", param="coherence_weight",
        help="SBN: weight of a coherence prior that steers each unit's largest weights to words the training "
        "documents use together (NPMI of its 30 largest-weight words, per document; 0: off)",
    )
    estimator_option(
        p, "--overlap-weight", type=float, metavar="W", param="overlap_weight",
        help="SBN: weight of a penalty on units that share their largest-weight words, so that units say "
        "different things (per document; 0: off)",
    )


def unit_params(args) -> dict:
    """Estimator parameters of :func:`add_unit_options`: the preset's, then those the user gave."""
    from docmodel.models.sbn import PRESETS

    params = {**PRESETS.get(args.preset or "", {}), **given(args, UNIT_OPTIONS)}
    if params.get("prior_logit") == LEARNED:
        params["prior_logit"] = None
    return params
