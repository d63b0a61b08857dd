"""The written form of a ``docmodel sweep`` (:mod:`docmodel.sweep`): the table with sizes as rows,
a generated reading of where each model's validation bound stops improving, and PNG plots of the
test figures against the number of units (matplotlib, Agg canvas). Everything here is made from
``sweep.json`` alone.
"""

from __future__ import annotations

import math
from pathlib import Path

from docmodel.models import VARIANTS

PLATEAU = 0.01
"""The validation bound has levelled off where doubling the size improves it by less than this."""


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    # Imported here: the checkpoint module loads torch, which the command line's parser does not need.
    from docmodel.checkpoint import atomic_write_bytes

    atomic_write_bytes(path, lambda f: f.write(text.encode()))


def figure_grid(sweep: dict, key: str) -> dict[str, dict[int, float | None]]:
    """``model -> {size: figure}`` over the finished pairs (``key`` of ``figures``)."""
    out: dict[str, dict[int, float | None]] = {name: {} for name in sweep["settings"]["models"]}
    for pair in sweep["pairs"]:
        out.setdefault(pair["model"], {})[pair["n_units"]] = pair["figures"].get(key)
    return out


def labels(sweep: dict) -> dict[str, str]:
    """Display name of each model of the sweep (as its saved pairs name it, else its variant label)."""
    out = {name: VARIANTS[name][0].label if name in VARIANTS else name for name in sweep["settings"]["models"]}
    for pair in sweep["pairs"]:
        out[pair["model"]] = pair.get("label", out.get(pair["model"], pair["model"]))
    return out


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def per_doubling(v_small: float, v_large: float, s_small: int, s_large: int) -> float:
    """Relative improvement (decrease) of a perplexity per doubling of the size, from
    ``s_small`` to ``s_large``: ``1 - (v_large / v_small) ** (1 / log2(s_large / s_small))``;
    negative when the perplexity grows."""
    return 1.0 - (v_large / v_small) ** (1.0 / math.log2(s_large / s_small))


def choice_reading(sweep: dict) -> list[str]:
    """Generated sentences on the choice of size: for each model, the size with the best
    validation bound and where the bound stops improving by more than 1% per doubling."""
    settings, corpus = sweep["settings"], sweep["corpus"]
    names = labels(sweep)
    val = figure_grid(sweep, "best_val_perplexity_bound")
    stopped = figure_grid(sweep, "stopped")
    epochs = figure_grid(sweep, "epochs")
    out = [
        f"The size is chosen on the validation bound (per-document perplexity) of the {corpus['n_docs_val']} "
        "documents held out from the training split; the same documents decide early stopping, which makes "
        "the figure slightly optimistic for every size alike. The test figures are results, not a guide to "
        "the choice."
    ]
    for name in settings["models"]:
        points = sorted((s, v) for s, v in val.get(name, {}).items() if _finite(v))
        label = names[name]
        if not points:
            out.append(f"{label}: no finished size has a validation bound, so no size is chosen.")
            continue
        best_size, best = min(points, key=lambda p: p[1])
        sentence = f"{label}: the best validation bound is at {best_size} units ({best:.1f})"
        if len(points) == 1:
            out.append(sentence + "; it is the only size finished, so there is nothing to compare.")
            continue
        if best_size in (points[0][0], points[-1][0]):
            sentence += f", the {'largest' if best_size == points[-1][0] else 'smallest'} size tried"
        out.append(sentence + ". " + _plateau_sentence(points))
    budget = settings.get("max_minutes_per_pair")
    for name in settings["models"]:
        spent = sorted(s for s, why in stopped.get(name, {}).items() if why == "time_budget")
        if spent:
            trained = _sizes(f"{epochs[name].get(s)}" for s in spent)
            out.append(
                f"{names[name]} used up its time budget ({budget:g} min per size) at {_sizes(spent)} units "
                f"({trained} epochs): it may be under-trained, the more so at larger sizes (slower per "
                "epoch), which can hide the gain of more units."
            )
    if len(settings["models"]) > 1:
        out.append(
            "Bounds of different model families differ in tightness: compare sizes within a model; across "
            "models, document completion is the fairer test figure."
        )
    if corpus.get("n_docs_test", 0) < 1000:
        out.append(f"With only {corpus['n_docs_test']} test documents, small differences in the test figures are within noise.")
    return out


def _sizes(sizes) -> str:
    sizes = [str(s) for s in sizes]
    return sizes[0] if len(sizes) == 1 else ", ".join(sizes[:-1]) + " and " + sizes[-1]


def _plateau_sentence(points: list[tuple[int, float]]) -> str:
    steps = [(s1, s2, v1, v2, per_doubling(v1, v2, s1, s2)) for (s1, v1), (s2, v2) in zip(points, points[1:])]
    flat = [i for i, step in enumerate(steps) if step[4] <= PLATEAU]
    if not flat:
        s1, s2, v1, v2, gain = steps[-1]
        steps_text = "Every step" if len(steps) > 1 else "The step"
        return (
            f"{steps_text} up to {s2} units improves it by more than {100 * PLATEAU:g}% per doubling "
            f"({'the last, ' if len(steps) > 1 else ''}{s1} -> {s2}: {v1:.1f} -> {v2:.1f}, "
            f"{100 * gain:.1f}% per doubling): it has not levelled off in the sizes tried, and a larger "
            "size may do better."
        )
    s1, s2, v1, v2, gain = steps[flat[0]]
    change = "worsens" if v2 > v1 else "improves"
    text = (
        f"From {s1} units on it stops improving by more than {100 * PLATEAU:g}% per doubling "
        f"({s1} -> {s2}: {v1:.1f} -> {v2:.1f}, {change} by {100 * abs(gain):.1f}% per doubling)"
    )
    later = [step for step in steps[flat[0] + 1:] if step[4] > PLATEAU]
    if later:
        a, b, _, _, g = later[0]
        text += f", though it improves again from {a} to {b} units ({100 * g:.1f}% per doubling)"
    return text + "."


# (key, column title, format); the first is the figure the size is chosen by.
COLUMNS = (
    ("best_val_perplexity_bound", "val bound", "{:.1f}"),
    ("perplexity_bound", "test bound", "{:.1f}"),
    ("perplexity_is", "test IS", "{:.1f}"),
    ("perplexity_completion", "test completion", "{:.1f}"),
    ("npmi", "NPMI", "{:.3f}"),
    ("diversity", "diversity", "{:.3f}"),
    ("label_accuracy", "label acc.", "{:.1%}"),
    ("train_seconds", "seconds", "{:.0f}"),
)


def table_columns(sweep: dict) -> tuple:
    """The :data:`COLUMNS` of a sweep's table (label accuracy only for a labelled corpus)."""
    has_labels = sweep["corpus"].get("has_labels")
    return tuple(c for c in COLUMNS if c[0] != "label_accuracy" or has_labels)


def _cell(value, fmt: str) -> str:
    return fmt.format(value) if _finite(value) else "n/a"


def sweep_rows(sweep: dict) -> tuple[list[str], list[str], list[list[str]]]:
    """The table of a sweep: group titles (one per column), column titles, and one row of cells
    per size (the size first; ``-`` for a pair not finished)."""
    columns = table_columns(sweep)
    names = labels(sweep)
    models = sweep["settings"]["models"]
    grids = {key: figure_grid(sweep, key) for key, _, _ in columns}
    groups = [names[m] for m in models for _ in columns]
    titles = [title for _ in models for _, title, _ in columns]
    rows = []
    for size in sweep["settings"]["units"]:
        row = [str(size)]
        for name in models:
            finished = size in grids[columns[0][0]][name]
            row += [_cell(grids[key][name].get(size), fmt) if finished else "-" for key, _, fmt in columns]
        rows.append(row)
    return groups, titles, rows


def markdown_table(sweep: dict) -> str:
    """Sizes as rows, a group of columns per model (``model name: figure`` in the header), and a
    line naming the models."""
    _, titles, rows = sweep_rows(sweep)
    models = sweep["settings"]["models"]
    n = len(titles) // len(models)
    header = ["units"] + [f"{m}: {t}" for m in models for t in titles[:n]]
    lines = ["| " + " | ".join(header) + " |", "|---:|" + "---:|" * len(titles)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    names = labels(sweep)
    lines += ["", "Models: " + "; ".join(f"`{m}`: {names[m]}" for m in models) + ". `-`: not finished."]
    return "\n".join(lines)


def render_markdown(sweep: dict, plots=()) -> str:
    """``sweep.md``: settings, the table, the reading and the plots."""
    settings, corpus = sweep["settings"], sweep["corpus"]
    n_done, n_all = len(sweep["pairs"]), len(settings["units"]) * len(settings["models"])
    budget = settings.get("max_minutes_per_pair")
    lines = [
        "# Number of units: a sweep",
        "",
        f"Corpus: `{corpus.get('path')}`: {corpus['n_docs_train']} training documents "
        f"(+{corpus['n_docs_val']} held out for validation and early stopping), {corpus['n_docs_test']} test "
        f"documents, {corpus['n_words']} words.",
        f"Sizes {', '.join(map(str, settings['units']))}; seed {settings['seed']}; "
        + (f"{budget:g} minutes of training for each model at each size." if budget
           else "no time budget (each model stopped by its own rule)."),
        f"{n_done} of {n_all} (model, size) pairs finished"
        + ("." if n_done == n_all else "; rerun the same command to train the others."),
        "",
        "## Figures",
        "",
        markdown_table(sweep),
        "",
        "*val bound*: the best validation bound perplexity during training, the figure the size is chosen "
        "by. *test bound / IS / completion*: per-document test perplexities by the bound, importance "
        f"sampling ({settings['n_samples']} samples) and document completion, as in `docmodel compare` "
        "(EVALUATION.md; natural logarithms, lower is better). NPMI: top 10 words, mean over units; "
        "diversity: top 25 words.",
        "",
        "## Reading",
        "",
        *[f"- {sentence}" for sentence in choice_reading(sweep)],
        "",
    ]
    if plots:
        lines += ["## Plots", ""] + [f"![{Path(p).stem.replace('_', ' ')}]({Path(p).name})" for p in plots] + [""]
    return "\n".join(lines)


def _units_axis(ax, units) -> None:
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.set_xticks(list(units))
    ax.set_xticklabels([str(u) for u in units])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("latent units / topics (log scale)")


def plot_sweep(sweep: dict, path: Path, panels, title: str) -> None:
    """One line per model against the number of units; ``panels`` = ((key, y label), ...)."""
    from matplotlib.figure import Figure

    names = labels(sweep)
    n_rows, n_cols = (len(panels) + 1) // 2, min(len(panels), 2)
    fig = Figure(figsize=(5.5 * n_cols, 4.2 * n_rows))
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax, (key, ylabel) in zip(axes, panels):
        for name, grid in figure_grid(sweep, key).items():
            points = sorted((s, v) for s, v in grid.items() if _finite(v))
            if points:
                ax.plot(*zip(*points), marker="o", label=names[name])
        _units_axis(ax, sweep["settings"]["units"])
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


PLOTS = (
    ("perplexity.png", (
        ("best_val_perplexity_bound", "validation bound (the choice)"),
        ("perplexity_bound", "test bound"),
        ("perplexity_is", "test importance sampled"),
        ("perplexity_completion", "test document completion"),
    ), "Held-out perplexity per document (lower is better)"),
    ("npmi.png", (("npmi", "NPMI, top 10 words (mean over units)"),), "Coherence on the training documents"),
    ("diversity.png", (("diversity", "distinct share of the top 25 words"),), "Topic diversity"),
)


def write_outputs(sweep_dir: str | Path, sweep: dict, *, plots: bool = True) -> list[Path]:
    """Write ``sweep.md`` and, with ``plots``, the PNG plots; returns the plots written."""
    sweep_dir = Path(sweep_dir)
    written = []
    if plots and sweep["pairs"]:
        for file_name, panels, title in PLOTS:
            plot_sweep(sweep, sweep_dir / file_name, panels, title)
            written.append(sweep_dir / file_name)
    shown = written or [sweep_dir / f for f, _, _ in PLOTS if (sweep_dir / f).exists()]
    write_text(sweep_dir / "sweep.md", render_markdown(sweep, shown))
    return written
