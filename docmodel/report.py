"""The written form of a model comparison: ``report.json``, ``report.md`` with a generated
reading of the figures, ``per_document.csv`` and PNG plots (matplotlib, Agg canvas).

Definitions follow ``EVALUATION.md``; the reading says which model wins each figure and by how
much, and what the figures cannot show.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from docmodel.checkpoint import atomic_write_bytes
from docmodel.models import REGISTRY, VARIANTS
from docmodel.topwords import rule_note

# (key, title, which direction is better; None: shown, not ranked)
FIGURES = (
    ("perplexity_bound", "Perplexity, bound (per document)", "lower"),
    ("perplexity_is", "Perplexity, importance sampled (per document)", "lower"),
    ("perplexity_completion", "Perplexity, document completion (per document)", "lower"),
    ("perplexity_bound_per_word", "Perplexity, bound (per word)", "lower"),
    ("perplexity_is_per_word", "Perplexity, importance sampled (per word)", "lower"),
    ("perplexity_completion_per_word", "Perplexity, document completion (per word)", "lower"),
    ("exact", "Likelihood (the three perplexities above)", None),
    ("sklearn_perplexity_per_word", "scikit-learn perplexity() (per word; LDA only, reference)", None),
    ("npmi", "NPMI coherence (top 10 words, mean over units)", "higher"),
    ("diversity", "Topic diversity (top 25 words)", "higher"),
    ("label_accuracy", "Label accuracy (logistic regression on the representation, 5-fold CV)", "higher"),
    ("train_seconds", "Training time (s)", None),
    ("epochs", "Epochs (LDA: iterations)", None),
    ("stopped", "Training stopped by", None),
)
NUMBERING_NOTE = (
    "Units are numbered from 0, as the app, `docmodel topics` and the CSV exports ("
    + ", ".join(f"`{kind.export_prefix}0`" for kind in REGISTRY.values())
    + ", ...) number them."
)
# The figures the reading ranks, in order.
RANKED = ("perplexity_bound", "perplexity_is", "perplexity_completion", "npmi", "diversity", "label_accuracy")
ESTIMATOR_NOTE = (
    "Perplexities follow EVALUATION.md (natural logarithms; lower is better). *Bound*: the SBN's "
    "bound averages 10 single-sample bounds from its inference network, LDA's is the per-document "
    "mean-field bound with the topics at their fitted values; both are upper bounds on perplexity, "
    "of different tightness. *Importance sampled*: {S} samples from each model's own approximate "
    "posterior. *Document completion*: the posterior is inferred from a random half of each test "
    "document and the other half is scored, the fairest comparison across models. "
    "scikit-learn's perplexity() is a per-word corpus bound, shown for reference only."
)


def _plain_log_ticks(axis, lo: float, hi: float) -> None:
    """Plain numbers (900, 1000) rather than powers of ten on a log axis spanning ``lo``..``hi``;
    the minor ticks are labelled too when the span is under a decade (else they would crowd)."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    major = ScalarFormatter()
    major.set_scientific(False)
    axis.set_major_formatter(major)
    if hi < 10 * lo:
        minor = ScalarFormatter()
        minor.set_scientific(False)
        axis.set_minor_formatter(minor)
    else:
        axis.set_minor_formatter(NullFormatter())


def _label(report: dict, name: str) -> str:
    return report["models"][name].get("label", name)


def _format(key: str, value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if key == "exact":
        return "exact" if value else "estimated"
    if key == "label_accuracy":
        return f"{100 * value:.1f}%"
    if key in ("npmi", "diversity"):
        return f"{value:.3f}"
    if key in ("epochs",):
        return str(int(value))
    return f"{value:.1f}"


def figures_table(report: dict) -> str:
    """The figures as a Markdown table, models as columns."""
    names = list(report["models"])
    lines = [
        "| figure | " + " | ".join(_label(report, n) for n in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for key, title, better in FIGURES:
        values = [report["models"][n].get(key) for n in names]
        if all(v is None for v in values):
            continue
        arrow = {"lower": " ↓", "higher": " ↑"}.get(better, "")
        lines.append(f"| {title}{arrow} | " + " | ".join(_format(key, v) for v in values) + " |")
    return "\n".join(lines)


def reading(report: dict, per_document: dict | None = None) -> list[str]:
    """Generated sentences: the winner of each ranked figure and by how much, then caveats.

    Parameters
    ----------
    report : dict
        As written to ``report.json``.
    per_document : dict, optional
        ``name -> {"doc_perplexity_bound": array}`` for the document-level comparison.
    """
    titles = {key: title for key, title, _ in FIGURES}
    better = {key: b for key, _, b in FIGURES}
    models = report["models"]
    out = []
    winners = {}
    for key in RANKED:
        scored = [(n, models[n][key]) for n in models if models[n].get(key) is not None]
        if len(scored) < 2:
            continue
        scored.sort(key=lambda item: item[1], reverse=better[key] == "higher")
        (best, v1), (second, v2) = scored[0], scored[1]
        winners[key] = best
        title = titles[key][0].lower() + titles[key][1:]
        tied = [n for n, v in scored if v == v1]
        if len(tied) > 1:
            names = ", ".join(_label(report, n) for n in tied[:-1]) + f" and {_label(report, tied[-1])}"
            out.append(f"{names} tie on {title} ({_format(key, v1)}).")
            winners[key] = None
            continue
        if better[key] == "lower":
            gap = (v2 - v1) / v2
            margin = f"{100 * gap:.1f}% below {_label(report, second)} ({_format(key, v2)})"
            small = gap < 0.01
        elif key == "label_accuracy":
            margin = f"{100 * (v1 - v2):.1f} points above {_label(report, second)} ({_format(key, v2)})"
            small = v1 - v2 < 0.01
        else:
            margin = f"{v1 - v2:+.3f} over {_label(report, second)} ({_format(key, v2)})"
            small = v1 - v2 < 0.01
        sentence = f"{title[0].upper() + title[1:]}: {_label(report, best)} is best at {_format(key, v1)}, {margin}"
        if small:
            sentence += ", a margin too small to call"
        if len(scored) > 2:
            sentence += f"; {_label(report, scored[-1][0])} is last ({_format(key, scored[-1][1])})"
        out.append(sentence + ".")
    if winners.get("perplexity_bound") and winners.get("perplexity_completion"):
        if winners["perplexity_bound"] == winners["perplexity_completion"]:
            out.append(
                f"The bound and document completion agree on the best model ({_label(report, winners['perplexity_bound'])})."
            )
        else:
            out.append(
                "The bound and document completion disagree on the best model: the bounds differ in "
                "tightness between model families, so the completion figure is the one to trust."
            )
    out.extend(_document_level(report, per_document))
    for name, fig in models.items():
        if fig.get("stopped") == "time_budget":
            budget = fig.get("budget_seconds") or fig["train_seconds"]
            out.append(
                f"{_label(report, name)} used up its time budget ({budget:.0f} s) before its own "
                "stopping rule ended training: it may be under-trained, and a longer run may change the ranking."
            )
    n_test = report.get("corpus", {}).get("n_docs_test")
    if n_test is not None and n_test < 1000:
        out.append(f"With only {n_test} test documents, small differences are within noise.")
    return out


def _document_level(report: dict, per_document: dict | None) -> list[str]:
    pair = _scatter_pair(report)
    if per_document is None or pair is None:
        return []
    sbn, lda = pair
    a = np.asarray(per_document[sbn]["doc_perplexity_bound"])
    b = np.asarray(per_document[lda]["doc_perplexity_bound"])
    share = float(np.mean(a < b))
    return [
        f"Document by document, {_label(report, sbn)} has the lower bound perplexity on {100 * share:.1f}% "
        f"of the {len(a)} test documents (median ratio SBN/LDA {np.median(a / b):.3f})."
    ]


def _kind(name: str, fig: dict) -> str | None:
    """The model kind of a report entry (older reports name it only through the compare variant)."""
    return fig.get("kind") or (VARIANTS[name][1].kind if name in VARIANTS else None)


def _scatter_pair(report: dict) -> tuple[str, str] | None:
    """The first model of the report against the first of another kind (SBN (NVIL) against LDA)."""
    kinds = {name: _kind(name, fig) for name, fig in report["models"].items()}
    names = [name for name, kind in kinds.items() if kind is not None]
    other = [n for n in names if kinds[n] != kinds[names[0]]] if names else []
    return (names[0], other[0]) if other else None


def _options_line(settings: dict) -> list[str]:
    """The non-default estimator options the SBNs were trained with, if any, as one line."""
    parts = [f"both SBNs: {k}={v}" for k, v in sorted((settings.get("sbn_params") or {}).items()) if k != "device"]
    parts += [f"NVIL: {k}={v}" for k, v in sorted((settings.get("nvil_params") or {}).items())]
    for name, params in (settings.get("model_params") or {}).items():
        parts += [f"{name}: {k}={v}" for k, v in sorted(params.items()) if k != "device"]
    return [f"Options: {'; '.join(parts)}."] if parts else []


def _estimates_notes(report: dict) -> list[str]:
    """What the three perplexities are for each kind of the report that says it itself (the
    exact models, the Replicated Softmax's AIS, ...), one paragraph per kind."""
    kinds = dict.fromkeys(_kind(name, fig) for name, fig in report["models"].items())
    notes = [REGISTRY[k].estimates_text for k in kinds if k in REGISTRY and REGISTRY[k].estimates_text]
    return [line for note in notes for line in ("", note)]


def budget_text(report: dict) -> str:
    """How training time was limited, from the settings and each model's ``budget_seconds``.

    ``docmodel compare --max-minutes`` shares one budget out among the models; the app gives each
    model the budget the user set for it (its ``max_seconds``; None: none); without either, every
    model stopped by its own rule. A model that :func:`reading` says used up its budget had one,
    so the settings line never says "no time budget" beside it.
    """
    settings = report["settings"]
    if settings.get("max_minutes"):
        return f"{settings['max_minutes']:g} minutes of training in all ({settings['budget_rule']})"
    budgets = {name: fig.get("budget_seconds") for name, fig in report["models"].items()}
    if any(budgets.values()):
        each = ", ".join(f"{_label(report, n)}: {f'{b:g} s' if b else 'none'}" for n, b in budgets.items())
        return f"a time budget per model ({each})"
    return "no time budget (each model stopped by its own rule)"


def render_markdown(report: dict, per_document: dict | None = None, plots: list[str] = ()) -> str:
    """``report.md``: settings, the figures, the reading, the plots and every unit's top words."""
    corpus, settings = report["corpus"], report["settings"]
    lines = [
        "# Model comparison",
        "",
        f"Corpus: `{corpus.get('path')}`: {corpus['n_docs_train']} training documents "
        f"(+{corpus['n_docs_val']} held out for validation and early stopping), {corpus['n_docs_test']} test "
        f"documents, {corpus['n_words']} words.",
        f"Every model has {settings['n_units']} latent units; seed {settings['seed']}; {budget_text(report)}.",
        *_options_line(settings),
        "",
        "## Figures",
        "",
        figures_table(report),
        "",
        ESTIMATOR_NOTE.format(S=settings["n_samples"]),
        *_estimates_notes(report),
        "",
        "## Reading",
        "",
        *[f"- {sentence}" for sentence in reading(report, per_document)],
        "",
    ]
    if plots:
        lines += ["## Plots", ""] + [f"![{Path(p).stem.replace('_', ' ')}]({Path(p).name})" for p in plots] + [""]
    lines += ["## Top words", "", rule_note() + " " + NUMBERING_NOTE, ""]
    for name, fig in report["models"].items():
        lines += [f"### {_label(report, name)}", ""]
        kind = _kind(name, fig)
        unit = REGISTRY[kind].unit_name if kind in REGISTRY else "unit"
        for k, (words, npmi) in enumerate(zip(fig["top_words"], fig["npmi_per_unit"])):
            lines.append(f"- {unit} {k} (NPMI {npmi:.3f}): {' '.join(words)}")
        lines.append("")
    return "\n".join(lines)


def plot_training_curves(report: dict, path: Path) -> None:
    """Validation bound perplexity against training seconds, every model on one axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for name, figs in report["models"].items():
        curve = figs["curve"]
        if curve["seconds"]:
            ax.plot(curve["seconds"], curve["val_perplexity_bound"], marker=".", label=_label(report, name))
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("validation perplexity (bound, per document)")
    ax.set_yscale("log")
    values = [v for figs in report["models"].values() for v in figs["curve"]["val_perplexity_bound"]]
    if values:
        _plain_log_ticks(ax.yaxis, min(values), max(values))
    ax.set_title("Training curves")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_document_scatter(report: dict, per_document: dict, path: Path) -> bool:
    """Per-document bound perplexity, SBN against LDA, log axes with the diagonal."""
    from matplotlib.figure import Figure

    pair = _scatter_pair(report)
    if pair is None:
        return False
    sbn, lda = pair
    a = np.asarray(per_document[sbn]["doc_perplexity_bound"])
    b = np.asarray(per_document[lda]["doc_perplexity_bound"])
    fig = Figure(figsize=(5.5, 5.5))
    ax = fig.subplots()
    ax.scatter(b, a, s=4, alpha=0.35)
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax.xaxis, lo, hi)
    _plain_log_ticks(ax.yaxis, lo, hi)
    ax.set_xlabel(f"{_label(report, lda)}: bound perplexity")
    ax.set_ylabel(f"{_label(report, sbn)}: bound perplexity")
    ax.set_title(f"Test documents ({100 * np.mean(a < b):.0f}% below the diagonal: SBN lower)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def plot_npmi(report: dict, path: Path) -> None:
    """Each model's per-unit NPMI, sorted, with its mean as a dashed line."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for name, figs in report["models"].items():
        values = np.sort(np.asarray(figs["npmi_per_unit"], dtype=float))[::-1]
        line = ax.plot(np.arange(1, len(values) + 1), values, marker=".", label=_label(report, name))[0]
        ax.axhline(figs["npmi"], color=line.get_color(), linestyle="--", linewidth=1)
    ax.set_xlabel("rank of the unit by NPMI (1: most coherent; not the unit's number)")
    ax.set_ylabel("NPMI of the top 10 words")
    ax.set_title("Coherence per unit (dashed: mean)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_report(report_dir: str | Path, report: dict, per_document: dict, *, doc_ids=None) -> Path:
    """Write ``report.json``, ``per_document.csv``, the plots and ``report.md`` into ``report_dir``.

    Parameters
    ----------
    report : dict
        ``models``, ``corpus`` and ``settings`` (JSON-ready).
    per_document : dict
        ``name -> {"doc_index": array, "doc_perplexity_bound": array}`` over the test documents.
    doc_ids : sequence of str, optional
        Test document ids, for the CSV.
    """
    import pandas as pd

    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, allow_nan=True)
    atomic_write_bytes(report_dir / "report.json", lambda f: f.write(text.encode()))
    if per_document:
        first = next(iter(per_document.values()))
        index = np.asarray(first["doc_index"])
        table = pd.DataFrame({"row": index})
        if doc_ids is not None:
            table["doc_id"] = [doc_ids[i] for i in index]
        for name, per in per_document.items():
            table[f"{name}_perplexity_bound"] = np.asarray(per["doc_perplexity_bound"])
        csv = table.to_csv(index=False)
        atomic_write_bytes(report_dir / "per_document.csv", lambda f: f.write(csv.encode()))
    plots = [report_dir / "training_curves.png"]
    plot_training_curves(report, plots[0])
    if plot_document_scatter(report, per_document, report_dir / "scatter_bound.png"):
        plots.append(report_dir / "scatter_bound.png")
    plot_npmi(report, report_dir / "npmi_per_unit.png")
    plots.append(report_dir / "npmi_per_unit.png")
    markdown = render_markdown(report, per_document, [str(p) for p in plots])
    atomic_write_bytes(report_dir / "report.md", lambda f: f.write(markdown.encode()))
    return report_dir
