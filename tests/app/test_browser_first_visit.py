"""The first visit to a fresh server in a real browser (issue 15): the sidebar lists the pages by
their titles while the demo corpus is prepared, never by their module names ("corpus", "train",
...), which Streamlit shows for the files of ``app/pages`` until the router has run once."""

from __future__ import annotations

import pytest

from tests.app.browser import WAIT, WIDTH, idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Every change of the sidebar's page list, with whether anything of the app was drawn by then.
WATCH = r"""
window.navSeen = [];
new MutationObserver(() => {
  const links = [...document.querySelectorAll('[data-testid="stSidebarNavLink"]')];
  const names = links.map(a => a.innerText.replace(/\s+/g, ' ').trim()).join(' | ');
  const drawn = document.querySelectorAll('[data-testid="stMain"] [data-testid="stElementContainer"]').length > 0;
  const last = window.navSeen[window.navSeen.length - 1];
  if (names && (!last || last.names !== names || last.drawn !== drawn)) window.navSeen.push({names, drawn});
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def test_the_first_visit_lists_the_pages_by_their_titles(browser, server):
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    page = context.new_page()
    page.add_init_script(WATCH)
    page.goto(server)
    page.get_by_text("Most frequent words").wait_for(timeout=WAIT)  # the demo corpus is ready
    idle(page)
    seen = page.evaluate("window.navSeen")
    titles = [s["names"] for s in seen if "Corpus" in s["names"] and "Models" in s["names"]]
    assert titles and seen[-1]["names"] == titles[-1], seen
    module_names = [s for s in seen if "corpus" in s["names"].split(" | ") or "main" in s["names"].split(" | ")]
    assert not [s for s in module_names if s["drawn"]], seen  # never while the app draws (the demo's spinner)
    context.close()
