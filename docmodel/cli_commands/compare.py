"""``docmodel compare CORPUS_DIR [--units 50] [--max-minutes M] [--seed S] [--samples 100] --out REPORT_DIR``."""

from __future__ import annotations

import argparse

from corpora.errors import CorpusError
from docmodel.cli_commands._common import ProgressBar, add_unit_options, load_dataset, unit_params
from docmodel.cli_commands.train import THREADS_HELP
from docmodel.compare import CompareSettings
from docmodel.models import VARIANTS

MODELS = tuple(VARIANTS)
DEFAULTS = CompareSettings()


def models_option(text: str) -> tuple[str, ...]:
    if text.strip() == "all":
        return MODELS
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        raise CorpusError(f"--models takes 'all' or a comma-separated list of {', '.join(MODELS)}; got {text!r}")
    return names


def add_arguments(p) -> None:
    p.add_argument("corpus_dir", help="a corpus directory made by 'docmodel prepare', with a test split")
    p.add_argument("-o", "--out", required=True, help="report directory to write")
    p.add_argument("--units", type=int, default=DEFAULTS.n_units,
                   help=f"latent units / topics of every model (default {DEFAULTS.n_units})")
    p.add_argument(
        "--max-minutes", type=float,
        help="training time for all models together, shared out equally (evaluation comes on top)",
    )
    p.add_argument("--seed", type=int, default=DEFAULTS.seed, help=f"seeds the split, every model and estimate (default {DEFAULTS.seed})")
    p.add_argument("--samples", type=int, default=DEFAULTS.n_samples,
                   help=f"importance samples per document (default {DEFAULTS.n_samples})")
    p.add_argument("--val-docs", type=int, default=DEFAULTS.n_val_docs,
                   help=f"training documents held out for validation (default {DEFAULTS.n_val_docs})")
    p.add_argument("--models", default=",".join(DEFAULTS.models),
                   help=f"models to train, or 'all' (default {','.join(DEFAULTS.models)}; known: {', '.join(MODELS)})")
    add_training_options(p)


def add_training_options(p) -> None:
    """The options of how the models train, shared with ``docmodel sweep``."""
    p.add_argument("--device", default="cpu", help="device of the neural models (SBNs, DocNADE, RSM, NVDM): cpu, cuda or auto")
    p.add_argument("--threads", type=int, metavar="N", help=THREADS_HELP)
    p.add_argument("--batch-size", type=int, help="minibatch of the SBNs (default: a twentieth of the training documents, between 64 and 512)")
    p.add_argument(
        "--nvil-dropout-words", action=argparse.BooleanOptionalAction, default=True,
        help="NVIL's encoder dropout removes whole words (default) or zeroes features "
        "(see docmodel train --encoder-dropout-words)",
    )
    add_unit_options(p)
    p.add_argument(
        "--nvil-dreams", type=float, default=0.0, metavar="F",
        help="NVIL also trains q on F dreamed documents per real one (see docmodel train --encoder-dreams)",
    )


def compare_settings(args, models: tuple[str, ...], **fields) -> CompareSettings:
    """The settings of :func:`add_training_options` and the common ones, for ``models``."""
    from docmodel.compare import device_params

    return CompareSettings(
        max_minutes=args.max_minutes,
        seed=args.seed,
        n_samples=args.samples,
        n_val_docs=args.val_docs,
        models=models,
        sbn_params={
            "device": args.device, **({"batch_size": args.batch_size} if args.batch_size else {}), **unit_params(args),
            **({"n_threads": args.threads} if args.threads is not None else {}),
        },
        nvil_params={
            **({} if args.nvil_dropout_words else {"encoder_dropout_words": False}),
            **({"encoder_dreams": args.nvil_dreams} if args.nvil_dreams else {}),
        },
        model_params=device_params(models, args.device),
        **fields,
    )


def run(args) -> int:
    from docmodel.compare import MODEL_LABELS, run_compare

    settings = compare_settings(args, models_option(args.models), n_units=args.units)
    dataset = load_dataset(args.corpus_dir)
    bars = []

    def progress(name):
        if bars:
            bars[-1].close()
        bar = ProgressBar(f"training {name}")
        bars.append(bar)
        return bar

    try:
        report = run_compare(dataset, args.out, settings, corpus_dir=args.corpus_dir, callback_factory=progress)
    finally:
        if bars:
            bars[-1].close()
    width = max([len("model")] + [len(MODEL_LABELS[name]) for name in report["models"]]) + 2
    print(f"{'model':<{width}}{'bound':>10}{'IS':>10}{'completion':>12}{'NPMI':>8}{'seconds':>9}")
    for name, fig in report["models"].items():
        print(
            f"{MODEL_LABELS[name]:<{width}}{fig['perplexity_bound']:>10.1f}{fig['perplexity_is']:>10.1f}"
            f"{fig['perplexity_completion']:>12.1f}{fig['npmi']:>8.3f}{fig['train_seconds']:>9.0f}"
        )
    print(f"report written to {args.out}/report.md")
    return 0
