"""``docmodel sweep CORPUS_DIR --units 10,20,50,100,200 --models sbn_nvil,lda [--max-minutes M]
[--seed S] [--samples N] -o SWEEP_DIR``."""

from __future__ import annotations

import sys

from corpora.errors import CorpusError
from docmodel.cli_commands._common import ProgressBar, load_dataset
from docmodel.cli_commands.compare import (
    MODELS,
    add_training_options,
    compare_settings,
    models_option,
)
from docmodel.sweep import SweepSettings

DEFAULTS = SweepSettings()
DEFAULT_UNITS = ",".join(map(str, DEFAULTS.units))
DEFAULT_MODELS = ",".join(DEFAULTS.compare.models)


def _units(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise CorpusError(f"--units takes a comma-separated list of positive integers, such as 10,20,50; got {text!r}")
    return tuple(int(p) for p in parts)


def add_arguments(p) -> None:
    p.add_argument("corpus_dir", help="a corpus directory made by 'docmodel prepare', with a test split")
    p.add_argument("-o", "--out", required=True,
                   help="sweep directory to write; a rerun with the same options continues a sweep stopped there")
    p.add_argument("--units", default=DEFAULT_UNITS,
                   help=f"the sizes to try: latent units / topics, comma-separated (default {DEFAULT_UNITS})")
    p.add_argument("--models", default=DEFAULT_MODELS,
                   help=f"models to train at every size, or 'all' (default {DEFAULT_MODELS}; known: {', '.join(MODELS)})")
    p.add_argument(
        "--max-minutes", type=float,
        help="training time of EACH (model, size) pair, not of the whole sweep (evaluation comes on top); "
        "default: each stops by its own rule",
    )
    p.add_argument("--seed", type=int, default=DEFAULTS.compare.seed, help=f"seeds the split, every model and estimate (default {DEFAULTS.compare.seed})")
    p.add_argument("--samples", type=int, default=DEFAULTS.compare.n_samples,
                   help=f"importance samples per document (default {DEFAULTS.compare.n_samples})")
    p.add_argument("--val-docs", type=int, default=DEFAULTS.compare.n_val_docs,
                   help=f"training documents held out for validation; the size is chosen on them (default {DEFAULTS.compare.n_val_docs})")
    add_training_options(p)


def run(args) -> int:
    from docmodel.sweep import load_sweep, run_sweep

    settings = SweepSettings(units=_units(args.units), compare=compare_settings(args, models_option(args.models)))
    dataset = load_dataset(args.corpus_dir)
    n_pairs = len(settings.pairs())
    bars = []

    def progress(name, n_units):
        if bars:
            bars[-1].close()
        bar = ProgressBar(f"training {name} with {n_units} units")
        bars.append(bar)
        return bar

    try:
        sweep = run_sweep(dataset, args.out, settings, corpus_dir=args.corpus_dir, callback_factory=progress)
    except KeyboardInterrupt:
        if bars:
            bars[-1].close()
        saved = load_sweep(args.out)
        n_done = len(saved["pairs"]) if saved else 0
        print(
            f"docmodel sweep: interrupted; {n_done} of {n_pairs} (model, size) pairs are saved in {args.out}. "
            "To continue, run the same command again: it trains only the missing pairs.",
            file=sys.stderr,
        )
        return 130
    finally:
        if bars:
            bars[-1].close()
            bars.clear()
    print(_text_table(sweep))
    print(f"sweep written to {args.out}/sweep.md")
    return 0


def _text_table(sweep: dict) -> str:
    """The table for a terminal: a line naming each model above its columns."""
    from docmodel.sweep_report import sweep_rows

    groups, titles, rows = sweep_rows(sweep)
    width = [max(len(t), *(len(r[i + 1]) for r in rows)) + 2 for i, t in enumerate(titles)]
    n = len(titles) // len(sweep["settings"]["models"])
    group_line = " " * 6
    for start in range(0, len(titles), n):
        span = sum(width[start:start + n])
        group_line += f" {groups[start][:span - 4]} ".center(span - 1, "-") + " "
    lines = [group_line.rstrip(), f"{'units':>6}" + "".join(f"{t:>{w}}" for t, w in zip(titles, width))]
    lines += [f"{row[0]:>6}" + "".join(f"{c:>{w}}" for c, w in zip(row[1:], width)) for row in rows]
    return "\n".join(lines)
