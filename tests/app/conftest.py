"""Fixtures of the app's tests: a data directory of their own for the app's workspaces (never the
user's), and for the real-browser tests (``tests/app/browser.py`` has the harness) the app on a
free local port and Debian's chromium, both always stopped at the end."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.app.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, need_chromium, running_app


@pytest.fixture(scope="session", autouse=True)
def app_data_dir(tmp_path_factory):
    """The workspaces of every app run in these tests (AppTest sessions, servers started here) go
    to a temporary data directory; set before any module-scoped app fixture starts."""
    folder = tmp_path_factory.mktemp("docmodel-data")
    previous = os.environ.get("DOCMODEL_DATA_DIR")
    os.environ["DOCMODEL_DATA_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("DOCMODEL_DATA_DIR", None)
    else:
        os.environ["DOCMODEL_DATA_DIR"] = previous


@pytest.fixture
def server(tmp_path):
    """The app on a free local port; its log is copied to test-artifacts/ at the end."""
    log_path = tmp_path / "streamlit.log"
    try:
        with running_app(log_path) as (url, _):
            yield url
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        if log_path.exists():
            shutil.copyfile(log_path, ARTIFACTS / "streamlit.log")


@pytest.fixture
def browser():
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
