"""Widget values -> validated library settings: preprocessing options and estimators.

Pages collect flat values from widgets; this module turns them into the frozen options and
estimators of the libraries, which validate them and name any bad value in their messages.
"""

from __future__ import annotations

import re

from corpora import CorpusError
from corpora.prepare import PrepareOptions

SBN_ALGORITHMS = {"NVIL": "nvil", "Wake-sleep": "wake-sleep", "Concrete relaxation (Gumbel-sigmoid)": "relaxed"}
SBN_PRIORS = {"Factorial": "factorial", "Autoregressive (fDARN)": "autoregressive"}
SBN_INFERENCE = {"Factorial": "factorial", "Autoregressive": "autoregressive"}
SBN_MEAN_FIELD = {"Automatic": "auto", "None (the network alone)": 0, **{str(t): t for t in (1, 2, 3, 5, 10, 20)}}
LDA_METHODS = {"Batch variational Bayes": "batch", "Online variational Bayes": "online"}


def prepare_options(
    *,
    stopwords: bool = True,
    extra_stopwords: str = "",
    stem: bool = False,
    bigrams: bool = False,
    strip_headers: bool = False,
    min_df: int = 2,
    max_df: float = 0.95,
    max_words: int = 2000,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> PrepareOptions:
    """Preprocessing options from the Corpus page's widgets.

    ``extra_stopwords`` is free text: words separated by commas, spaces or new lines.
    ``max_words`` 0 means no limit.
    """
    extra = tuple(w for w in re.split(r"[\s,;]+", extra_stopwords.strip().lower()) if w)
    return PrepareOptions(
        stopwords="english" if stopwords else "none",
        extra_stopwords=extra,
        stem=bool(stem),
        bigrams=bool(bigrams),
        strip_headers="auto" if strip_headers else "off",
        min_df=int(min_df),
        max_df=float(max_df),
        max_words=int(max_words) or None,
        test_fraction=float(test_fraction),
        seed=int(seed),
    )


def parse_layers(text: str) -> tuple[int, ...]:
    """"50" -> (50,); "100, 50" -> (100, 50): units per layer, nearest the words first."""
    parts = [p for p in re.split(r"[\s,x]+", text.strip()) if p]
    try:
        layers = tuple(int(p) for p in parts)
    except ValueError:
        raise CorpusError(
            f"layers must be whole numbers separated by commas, like 50 or 100, 50; got {text!r}"
        ) from None
    if not layers or any(k < 1 or k > 2000 for k in layers):
        raise CorpusError(f"each layer needs between 1 and 2000 units; got {text!r}")
    return layers


def parse_sizes(text: str, most: int = 2000) -> tuple[int, ...]:
    """"10, 20, 50" -> (10, 20, 50): the sizes a sweep tries (latent units / topics), each once."""
    parts = [p for p in re.split(r"[\s,;]+", text.strip()) if p]
    if not parts or not all(p.isdigit() and 1 <= int(p) <= most for p in parts):
        raise CorpusError(
            f"Sizes must be whole numbers from 1 to {most} separated by commas, such as 10, 20, 50; got {text!r}."
        )
    sizes = [int(p) for p in parts]
    repeated = sorted({k for k in sizes if sizes.count(k) > 1})
    if repeated:
        raise CorpusError(f"Each size may be given only once; {text!r} repeats {', '.join(map(str, repeated))}.")
    return tuple(sizes)


def sbn_estimator(
    *,
    layers: tuple[int, ...],
    algorithm: str,
    max_epochs: int,
    max_seconds: float,
    learning_rate: float,
    encoder_learning_rate: float,
    batch_size: int,
    patience: int,
    seed: int,
    fixed_background: bool | None = None,
    weight_l1: float | None = None,
    coherence_weight: float | None = None,
    overlap_weight: float | None = None,
    nonnegative: bool | None = None,
    prior_logit: float | None = None,
    prior: str = "factorial",
    inference: str = "factorial",
    mean_field_steps: int | str = "auto",
):
    """An unfitted SBN from the Train page's settings (``max_seconds`` 0: no time budget,
    ``encoder_learning_rate`` 0: the model's, ``batch_size`` 0: automatic, ``prior_logit`` 0:
    learned; the readable-unit options, ``prior``, ``inference`` and ``mean_field_steps`` as
    ``SBNTopicModel`` takes them; a readable-unit option left at None is the estimator's default)."""
    from docmodel.models.sbn.estimator import SBNTopicModel

    units = {}
    if fixed_background is not None:
        units["fixed_background"] = bool(fixed_background)
    if weight_l1 is not None:
        units["weight_l1"] = float(weight_l1)
    if coherence_weight is not None:
        units["coherence_weight"] = float(coherence_weight)
    if overlap_weight is not None:
        units["overlap_weight"] = float(overlap_weight)
    if nonnegative is not None:
        units["nonnegative"] = bool(nonnegative)
    if prior_logit is not None:
        units["prior_logit"] = float(prior_logit) or None

    return SBNTopicModel(
        n_units=layers[0],
        layers=layers if len(layers) > 1 else None,
        algorithm=algorithm,
        learning_rate=float(learning_rate),
        encoder_learning_rate=float(encoder_learning_rate) or None,
        batch_size=int(batch_size) or "auto",
        max_epochs=int(max_epochs),
        max_seconds=float(max_seconds) or None,
        patience=int(patience),
        random_state=int(seed),
        prior=prior,
        inference=inference,
        mean_field_steps=mean_field_steps if mean_field_steps == "auto" else int(mean_field_steps),
        **units,
    )


def lda_estimator(
    *, n_units: int, learning_method: str, max_iter: int, max_seconds: float, seed: int, patience: int = 0
):
    """An unfitted LDA from the Train page's settings (``max_seconds`` 0: no time budget,
    ``patience`` 0: no early stopping)."""
    from docmodel.models.lda.estimator import LDATopicModel

    return LDATopicModel(
        n_units=int(n_units),
        learning_method=learning_method,
        max_iter=int(max_iter),
        max_seconds=float(max_seconds) or None,
        patience=int(patience) or None,
        random_state=int(seed),
    )


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def model_name(text: str) -> str:
    """A model name chosen by the user: letters, digits, '-', '_', '.', at most 64 characters
    (it also names the downloaded files)."""
    name = text.strip()
    if not _NAME.match(name):
        raise CorpusError(
            f"model names may hold letters, digits, '-', '_' and '.', start with a letter or digit and "
            f"have at most 64 characters; got {text!r}"
        )
    return name


def model_name_from_file(file_name: str) -> str:
    """A valid model name made from an uploaded file's name."""
    stem = file_name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9_.\-]+", "-", stem).strip("-._")[:64]
    return stem or "uploaded"


def default_name(kind: str, detail: str, layers_or_units) -> str:
    """Names like "sbn-nvil-50", "sbn-wake-sleep-100x50", "lda-batch-20"."""
    if isinstance(layers_or_units, (tuple, list)):
        size = "x".join(str(k) for k in layers_or_units)
    else:
        size = str(layers_or_units)
    return f"{kind}-{detail}-{size}"
