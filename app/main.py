"""The app's entry script: a router over the pages, with the session summary in the sidebar.

Run with ``docmodel app`` (or ``streamlit run app/main.py``). Each browser session works in a
workspace on disk named by the page's URL (:mod:`app.workspace`); a new one starts with the
bundled demo corpus.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # so that `import app...` works when run as a plain script
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app.pages import PAGES  # noqa: E402

# The router runs first, before the libraries load and the demo corpus is prepared: until
# st.navigation has run once on a fresh server, Streamlit lists the files of app/pages in the
# sidebar under their module names (see app.workspace.use_the_router for that mode).
st.set_page_config(page_title="docmodel: topic models for documents", page_icon=":material/hub:", layout="wide")

pages = [
    st.Page(PAGES["corpus"], title="Corpus", icon=":material/description:", default=True),
    st.Page(PAGES["train"], title="Train", icon=":material/model_training:"),
    st.Page(PAGES["compare"], title="Compare", icon=":material/leaderboard:"),
    st.Page(PAGES["explore"], title="Explore", icon=":material/travel_explore:"),
    st.Page(PAGES["score"], title="Score new documents", icon=":material/input:"),
    st.Page(PAGES["models"], title="Models", icon=":material/inventory_2:"),
]
page = st.navigation(pages)

from docmodel.threads import prepare_process  # noqa: E402

prepare_process()  # before torch loads (under `streamlit run` too): OpenMP workers sleep while they wait

from app import state, ui  # noqa: E402
from app import workspace as workspaces  # noqa: E402
from app.jobs import SCHEDULER  # noqa: E402
from app.runner import QUEUED  # noqa: E402

ui.page_setup()

with st.sidebar:
    st.markdown("### This workspace")
    ds = state.dataset()
    if ds is None:
        st.caption("No corpus yet.")
    else:
        s = ds.summary()
        st.markdown(f"**Corpus:** {ui.md(state.dataset_name())}")
        st.caption(
            f"{s['n_docs_train']:,} training and {s['n_docs_test']:,} test documents, "
            f"{s['n_words']:,} words"
        )
    models = state.models()
    if models:
        st.markdown("**Models:**")
        for entry in models.values():
            mark = "" if entry.fits(ds) else " (other vocabulary)"
            st.caption(f"{ui.md(entry.label())}{mark}")
    run = st.session_state.get(state.TRAINING)
    if run is not None and not run.finished:
        place = SCHEDULER.position(run) if run.snapshot().status == QUEUED else None
        if place is not None:
            st.caption(f"**{ui.md(run.name)}** waits to train: number {place[0]} of {place[1]} in the queue.")
        else:
            st.caption(f"Training **{ui.md(run.name)}** in the background (progress on the Train page).")
    st.caption(workspaces.sidebar_note(state.workspace()))
    if st.button("Start a new workspace", key="new_workspace", icon=":material/add:",
                 help="An empty workspace with the demo corpus; this one stays at its own address."):
        state.switch_to_new_workspace()
        st.rerun()

page.run()
