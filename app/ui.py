"""Small pieces every page uses: error handling at page level, the corpus guard, messages, and
the rule that keeps settings for the session."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from app import resources, state
from app.pages import PAGES
from app.text_view import markdown_escape as md
from corpora import CorpusError
from corpora.prepare import PrepareOptions

log = logging.getLogger(__name__)

DEMO_OFFERED = "demo_offered"

KEEP = "session"
"""``persist_state`` of every settings widget (``persist_state=ui.KEEP``, with an explicit key).

Streamlit drops the state of a widget that a run does not draw, so without it every setting went
back to its default when the user visited another page and came back. With ``"session"`` the
value is kept for the whole session, on the page and off it. Widgets whose options change (a
model removed, another file's columns) fall back to their default when the kept value is no
longer an option. File uploaders cannot be kept (the browser holds the file): the Corpus and
Score pages keep a staged copy instead (:class:`app.upload_widget.UploadBox`)."""


@contextmanager
def page_errors(what: str) -> Iterator[None]:
    """Show user errors as ``st.error`` and anything unexpected as a short message, never a
    traceback. Streamlit's own control flow (rerun, stop, switch_page) passes through."""
    try:
        yield
    except CorpusError as exc:  # ModelError is a CorpusError too
        st.error(md(str(exc)), icon=":material/error:")
    except Exception as exc:
        log.exception("unexpected error while %s", what)
        st.error(
            f"Something went wrong while {what}: {type(exc).__name__}: {md(str(exc))}. "
            "The session keeps its corpus and models; try again or change the settings.",
            icon=":material/error:",
        )


def page_setup() -> None:
    """Start of every run, from the router or from a page run on its own: the session's keys,
    a finished background run's model, the demo corpus on the session's first run, and the
    messages left by the previous run. Safe to call more than once per run."""
    state.init()
    resources.warm_up()
    state.collect_training()
    if state.dataset() is None and not st.session_state.get(DEMO_OFFERED):
        st.session_state[DEMO_OFFERED] = True
        try:
            default = PrepareOptions(test_fraction=0.2)
            state.set_dataset(resources.demo_dataset(resources.options_key(default)), resources.DEMO_NAME)
        except CorpusError as exc:
            state.flash("warning", f"The demo corpus is not available ({exc}); upload a corpus instead.")
    show_messages()


def show_messages() -> None:
    """Messages left by the previous run (e.g. 'model trained') shown once."""
    for kind, text in state.pop_messages():
        getattr(st, kind)(text)


def require_corpus():
    """The session's corpus, or a pointer to the Corpus page and a stop."""
    ds = state.dataset()
    if ds is None:
        st.info("There is no corpus in this session yet: choose or upload one first.")
        st.page_link(PAGES["corpus"], label="Go to Corpus", icon=":material/description:")
        st.stop()
    return ds


def require_models(kind: str | None = None, what: str = "models"):
    """Models that fit the current corpus, or a pointer to the Train page and a stop."""
    found = state.usable_models(kind)
    if not found:
        others = len(state.models()) - len(found)
        extra = f" ({others} other models were trained on another vocabulary)" if others else ""
        st.info(f"No {what} for this corpus yet{extra}: train one first.")
        st.page_link(PAGES["train"], label="Go to Train", icon=":material/model_training:")
        st.stop()
    return found


def select_new_options(key: str, options: list[str]) -> None:
    """Before drawing the multiselect ``key`` (kept with :data:`KEEP`, no ``default``): select
    all ``options`` the first time, and afterwards add the options that are new since the last
    run (a model trained meanwhile) to the user's choice, dropping those that are gone."""
    seen_key = f"{key}_seen"
    seen = st.session_state.get(seen_key)
    chosen = st.session_state.get(key)
    if seen is None or chosen is None:
        wanted = list(options)
    else:
        wanted = [o for o in chosen if o in options] + [o for o in options if o not in seen and o not in chosen]
    if chosen != wanted:
        st.session_state[key] = wanted
    st.session_state[seen_key] = list(options)


TABLE_ROW_PX, TABLE_HEADER_PX = 35, 38
"""Streamlit's default row height in ``st.dataframe`` and its header with the table's border."""


def table_height(n_rows: int, max_rows: int = 25) -> int:
    """Pixel height of an ``st.dataframe`` that shows all its ``n_rows`` rows without scrolling,
    up to ``max_rows`` (a longer table scrolls inside that height). Streamlit's default height
    shows about ten rows, whatever the table holds."""
    return TABLE_HEADER_PX + TABLE_ROW_PX * max(1, min(n_rows, max_rows))


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
