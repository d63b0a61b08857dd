"""Helpers for the AppTest page tests: a tiny planted corpus, and the steps a user takes (start a
session, upload, prepare, train) run through Streamlit's AppTest with no exception allowed, and
the check that every setting of a page is kept when the user visits another page and comes back."""

from __future__ import annotations

import re

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

MAIN = str(ROOT / "app" / "main.py")
TIMEOUT = 60
TOPICS = {
    "space": "orbit rocket launch moon shuttle planet nasa satellite",
    "sport": "game team season player score coach league match",
    "food": "recipe butter flour oven sugar bake bread cheese",
}


def planted_csv(n_docs: int = 60, seed: int = 0, extra: dict | None = None) -> bytes:
    """Documents that each use the words of one of three topics (the topic is the label)."""
    rng = np.random.default_rng(seed)
    lines = ["doc_id,topic,body"]
    names = list(TOPICS)
    for i in range(n_docs):
        topic = names[i % 3]
        words = rng.choice(TOPICS[topic].split(), size=12)
        text = " ".join(words)
        if extra and i in extra:
            text = extra[i] + " " + text
        lines.append(f'd{i},{topic},"{text}"')
    return ("\n".join(lines) + "\n").encode()


def run(at: AppTest) -> AppTest:
    at.run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    return at


def new_app() -> AppTest:
    return run(AppTest.from_file(MAIN, default_timeout=TIMEOUT))


def shown(markdown: str) -> str:
    """Markdown source as the reader sees it (backslash escapes removed)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def errors(at: AppTest) -> list[str]:
    return [shown(e.value) for e in at.error]


def upload(at: AppTest, files) -> AppTest:
    at.radio(key="corpus_source").set_value("Upload files")
    run(at)
    at.file_uploader(key="corpus_upload").set_value(files)
    return run(at)


def upload_planted(at: AppTest, data: bytes | None = None) -> AppTest:
    upload(at, ("planted.csv", data or planted_csv(), "text/csv"))
    at.number_input(key="opt_min_df").set_value(1)
    at.selectbox(key="upload_label_column").set_value("topic")
    run(at)
    at.button(key="prepare_upload").click()
    run(at)
    assert at.session_state["dataset_name"] == "upload: planted.csv", errors(at)
    return at


def train(at: AppTest, kind: str, **fields) -> AppTest:
    at.switch_page("pages/train.py")
    run(at)
    for key, value in fields.items():
        if key in ("sbn_layers", "sbn_name", "lda_name"):
            widget = at.text_input(key=key)
        elif key == "sbn_mean_field":
            widget = at.selectbox(key=key)
        else:
            widget = at.number_input(key=key)
        widget.set_value(value)
    next(b for b in at.button if b.label == f"Train {kind}").click()
    run(at)
    training = at.session_state["training_run"]
    if training is not None:
        training.join(TIMEOUT)
    return run(at)


def train_both(at: AppTest) -> AppTest:
    train(at, "SBN", sbn_layers="4", sbn_epochs=200, sbn_seconds=0)
    train(at, "LDA", lda_units=3, lda_iter=5, lda_seconds=0)
    assert set(at.session_state["models"]) == {"sbn-nvil-4", "lda-batch-3"}
    return at


# ---- settings kept across pages ---------------------------------------------------------------
SETTINGS = ("number_input", "text_input", "checkbox", "selectbox", "multiselect", "radio", "slider")


def settings(at: AppTest, skip=()) -> dict:
    """``key -> value`` of every keyed settings widget the page shows."""
    return {w.key: w.value for kind in SETTINGS for w in at.get(kind) if w.key and w.key not in skip}


def _other_value(w):
    """A valid value other than the widget's current one, or None when it has no other."""
    if w.type in ("number_input", "slider"):
        up = w.value + w.step
        return up if w.max is None or up <= w.max else w.value - w.step
    if w.type == "text_input":
        return (w.value or "") + "7"
    if w.type == "checkbox":
        return not w.value
    if w.type == "multiselect":
        if len(w.options) < 2:
            return None
        return w.value[:-1] if len(w.value) > 1 else [o for o in w.options if o not in w.value][:1]
    if len(w.options) < 2:  # selectbox, radio
        return None
    return (w.index + 1) % len(w.options)


def change_settings(at: AppTest, skip=()) -> set[str]:
    """Give every keyed settings widget the page shows another valid value, in one run; returns
    the keys changed (a choice with a single option cannot change)."""
    changed = set()
    for kind in SETTINGS:
        for w in at.get(kind):
            if not w.key or w.key in skip or (new := _other_value(w)) is None:
                continue
            if w.type == "selectbox":
                w.select_index(new)
            elif w.type == "radio":
                w.set_value(w.options[new])  # our radios show their values as they are
            else:
                w.set_value(new)
            changed.add(w.key)
    run(at)
    return changed


def assert_settings_kept(at: AppTest, page: str, other: str, skip=()) -> dict:
    """Change every setting of ``page``, visit ``other`` and come back: every value is as left."""
    at.switch_page(page)
    run(at)
    before = settings(at, skip)
    changed = change_settings(at, skip)
    after = settings(at, skip)
    assert changed and all(after[k] != before[k] for k in changed), (before, after)
    at.switch_page(other)
    run(at)
    assert not set(settings(at)) & changed  # the other page does not show them
    at.switch_page(page)
    run(at)
    assert settings(at, skip) == after
    return after
