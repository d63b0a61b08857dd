"""Altair charts of the app. Each function takes a tidy DataFrame and returns a chart."""

from __future__ import annotations

import altair as alt
import pandas as pd

SPLIT_COLOURS = alt.Scale(domain=["train", "test"], range=["#4c78a8", "#f58518"])
SCATTER_SELECTION = "picked_doc"
MODELS = alt.Scale(scheme="tableau10")
"""Distinct colours for models (the theme's default shades of one hue are hard to tell apart)."""


def length_histogram(lengths: pd.DataFrame) -> alt.Chart:
    title = "tokens per document (in the vocabulary)"
    return (
        alt.Chart(lengths)
        .mark_bar(opacity=0.8)
        .encode(
            x=alt.X("tokens:Q", bin=alt.Bin(maxbins=40), title=title),
            y=alt.Y("count():Q", title="documents", stack=True),
            color=alt.Color("split:N", scale=SPLIT_COLOURS, legend=alt.Legend(orient="top-right")),
            tooltip=["split:N", alt.Tooltip("count():Q", title="documents")],
        )
        .properties(height=340)
    )


def top_words_bars(top: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(top)
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X("count:Q", title="occurrences in the training split"),
            y=alt.Y("word:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False)),
            tooltip=["word:N", "count:Q", alt.Tooltip("documents:Q", title="documents containing it")],
        )
        .properties(height=max(260, 18 * len(top)))
    )


def label_bars(labels: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(labels)
        .mark_bar()
        .encode(
            x=alt.X("documents:Q", stack=True),
            y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False, labelLimit=220)),
            color=alt.Color("split:N", scale=SPLIT_COLOURS),
            tooltip=["label:N", "split:N", "documents:Q"],
        )
        .properties(height=max(160, 20 * labels["label"].nunique()))
    )


def training_curves(history: pd.DataFrame, x: str = "seconds") -> alt.Chart:
    """Validation bound perplexity against ``x`` ("seconds" or "epoch"), one line per model."""
    title = "training time (s)" if x == "seconds" else "epoch (LDA: iteration)"
    return (
        alt.Chart(history)
        .mark_line(point=alt.OverlayMarkDef(size=20))
        .encode(
            x=alt.X(f"{x}:Q", title=title, axis=alt.Axis(format="d" if x == "epoch" else ",.0f", tickMinStep=1)),
            y=alt.Y("val_perplexity_bound:Q", title="validation perplexity (bound)", scale=alt.Scale(zero=False),
                    axis=alt.Axis(format=",.0f")),
            color=alt.Color("model:N", title="model", scale=MODELS),
            tooltip=["model:N", "epoch:Q", alt.Tooltip("seconds:Q", format=".1f"),
                     alt.Tooltip("val_perplexity_bound:Q", format=",.1f", title="perplexity (bound)")],
        )
        .properties(height=300)
    )


def sweep_curve(points: pd.DataFrame) -> alt.Chart:
    """The best validation bound perplexity against the number of units (log scale), one line per
    model (columns ``model``, ``units``, ``val_perplexity_bound``)."""
    units = sorted(int(u) for u in points["units"].unique())
    return (
        alt.Chart(points)
        .mark_line(point=alt.OverlayMarkDef(size=60))
        .encode(
            x=alt.X("units:Q", title="latent units / topics (log scale)", scale=alt.Scale(type="log"),
                    axis=alt.Axis(values=units, format="d")),
            y=alt.Y("val_perplexity_bound:Q", title="best validation perplexity (bound)", scale=alt.Scale(zero=False),
                    axis=alt.Axis(format=",.0f")),
            color=alt.Color("model:N", title="model", scale=MODELS),
            tooltip=["model:N", "units:Q",
                     alt.Tooltip("val_perplexity_bound:Q", format=",.1f", title="validation perplexity (bound)")],
        )
        .properties(height=300)
    )


def perplexity_scatter(points: pd.DataFrame, x_name: str, y_name: str) -> alt.LayerChart:
    """Per-document bound perplexity of two models, with the diagonal; clicking selects a point
    (selection parameter :data:`SCATTER_SELECTION`, field ``doc``)."""
    pick = alt.selection_point(name=SCATTER_SELECTION, fields=["doc"], on="click", clear="dblclick")
    lo = float(min(points["x"].min(), points["y"].min()))
    hi = float(max(points["x"].max(), points["y"].max()))
    diagonal = alt.Chart(pd.DataFrame({"x": [lo, hi], "y": [lo, hi]})).mark_line(
        color="#999", strokeDash=[4, 4]
    ).encode(x="x:Q", y="y:Q")
    dots = (
        alt.Chart(points)
        .mark_circle(size=60)
        .encode(
            x=alt.X("x:Q", title=f"{x_name}: perplexity (bound)", scale=alt.Scale(type="log", zero=False)),
            y=alt.Y("y:Q", title=f"{y_name}: perplexity (bound)", scale=alt.Scale(type="log", zero=False)),
            color=alt.condition(pick, alt.Color("better:N", title="lower perplexity", scale=MODELS), alt.value("#ccc")),
            tooltip=[alt.Tooltip("doc_id:N", title="document"), alt.Tooltip("x:Q", format=",.0f", title=x_name),
                     alt.Tooltip("y:Q", format=",.0f", title=y_name), "tokens:Q", "snippet:N"],
        )
        .add_params(pick)
    )
    return (diagonal + dots).properties(height=420)


def npmi_strip(npmi: pd.DataFrame) -> alt.Chart:
    """Each unit's NPMI as a tick, one row per model."""
    base = alt.Chart(npmi).encode(
        y=alt.Y("model:N", title=None, axis=alt.Axis(labelLimit=200)),
        color=alt.Color("model:N", legend=None, scale=MODELS),
    )
    ticks = base.mark_tick(thickness=2, size=34, opacity=0.8).encode(
        x=alt.X("npmi:Q", title="NPMI coherence of the unit's top 10 words (one tick per unit; diamond: mean)",
                scale=alt.Scale(domain=[-1, 1])),
        tooltip=["model:N", "unit:Q", alt.Tooltip("npmi:Q", format=".3f"), "top_words:N"],
    )
    means = base.mark_point(shape="diamond", size=160, filled=True).encode(
        x="mean(npmi):Q", color=alt.value("black"), tooltip=["model:N", alt.Tooltip("mean(npmi):Q", format=".3f", title="mean NPMI")]
    )
    return (ticks + means).properties(height=alt.Step(48))


def unit_bars(values: pd.DataFrame, title: str, colours: dict[int, str] | None = None) -> alt.Chart:
    """One bar per unit (``unit``, ``value``, ``top_words`` columns), coloured as in the text."""
    colours = colours or {}
    values = values.assign(colour=[colours.get(int(u), "#9fb3c8") for u in values["unit"]])
    return (
        alt.Chart(values)
        .mark_bar()
        .encode(
            x=alt.X("unit:O", title="unit", axis=alt.Axis(labelAngle=0, labelOverlap=True)),
            y=alt.Y("value:Q", title=title, scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("colour:N", scale=None),
            tooltip=["unit:Q", alt.Tooltip("value:Q", format=".3f", title=title), "top_words:N"],
        )
        .properties(height=220)
    )


def unit_map(points: pd.DataFrame) -> alt.Chart:
    """Units and topics placed by MDS on Jensen-Shannon distances (``x``, ``y``, ``model``,
    ``unit``, ``weight``, ``top_words``)."""
    return (
        alt.Chart(points)
        .mark_point(filled=True, opacity=0.75)
        .encode(
            x=alt.X("x:Q", axis=None),
            y=alt.Y("y:Q", axis=None),
            color=alt.Color("model:N", title="model", scale=MODELS),
            shape=alt.Shape("model:N", title="model"),
            size=alt.Size("weight:Q", title="share of documents where on", scale=alt.Scale(range=[40, 600])),
            tooltip=["model:N", "unit:Q", alt.Tooltip("weight:Q", format=".3f"), "top_words:N"],
        )
        .properties(height=480)
    )
