"""The app's pages, by name: their paths relative to the router (``app/main.py``), which lists
them, and with which pages link to each other (``st.switch_page``, ``st.page_link``; re-exported
as ``app.ui.PAGES``). Kept in this module, which imports nothing, so that the router can call
``st.navigation`` before it loads the libraries."""

PAGES = {
    "corpus": "pages/corpus.py",
    "train": "pages/train.py",
    "compare": "pages/compare.py",
    "explore": "pages/explore.py",
    "score": "pages/score.py",
    "models": "pages/models.py",
}
