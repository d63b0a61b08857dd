"""The app with a planted corpus and two tiny trained models, shared by the read-only tests of a
page module (each module gets its own session)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.pages.apptest import new_app, train_both, upload_planted


@pytest.fixture(scope="module")
def trained() -> AppTest:
    """An app with the planted corpus and a tiny SBN and LDA (shared by read-only tests)."""
    return train_both(upload_planted(new_app()))
