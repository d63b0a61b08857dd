"""The Models page through Streamlit's AppTest: downloads, loading a model file and refusing bad
ones (broken and code-running files), sessions that share nothing, and settings kept across
pages."""

from __future__ import annotations

import io

import torch

from app import resources
from tests.app.pages.apptest import assert_settings_kept, errors, new_app, run, shown


def test_models_page_offers_downloads(trained):
    at = trained
    at.switch_page("pages/models.py")
    run(at)
    labels = [b.label for b in at.download_button]
    assert "Download model (.pt)" in labels and "Top words (CSV)" in labels
    assert any(label.startswith("Download document-unit probabilities q(h_k=1|x) (CSV, 48 x 4)") for label in labels)
    at.selectbox(key="csv_model").set_value("lda-batch-3")
    at.radio(key="csv_split").set_value("test")
    run(at)
    assert any("document-topic proportions (CSV, 12 x 3)" in b.label for b in at.download_button)


def test_load_a_model_file_and_refuse_bad_ones(trained):
    from app import exports

    at = trained
    model = at.session_state["models"]["lda-batch-3"].model
    at.switch_page("pages/models.py")
    run(at)
    at.file_uploader(key="model_upload").set_value(("broken.pt", b"garbage", "application/octet-stream"))
    run(at)
    assert any("broken.pt is not a" in e for e in errors(at)), errors(at)
    assert "broken" not in at.session_state["models"]

    buf = io.BytesIO()
    torch.save({"format": "docmodel-model", "code": Exploit()}, buf)
    at.file_uploader(key="model_upload").set_value(("exploit.pt", buf.getvalue(), "application/octet-stream"))
    run(at)
    assert any("refused without loading it" in e for e in errors(at)), errors(at)

    at.file_uploader(key="model_upload").set_value(("my lda.pt", exports.checkpoint_bytes(model), "application/octet-stream"))
    run(at)
    loaded = at.session_state["models"]["my-lda"]
    assert loaded.origin == "uploaded" and loaded.fits(at.session_state["dataset"])
    assert any("Loaded" in s.value for s in at.success)
    # The upload reran the app (so that the sidebar, drawn before the page, lists the model): the
    # rerun shows the message left for it and the file as already loaded. (AppTest runs a page it
    # switched to on its own, without the router's sidebar; the browser test checks the sidebar.)
    assert "my lda.pt is loaded as **my-lda**." in [shown(c.value) for c in at.caption]
    at.selectbox(key="models_pick").set_value("my-lda")
    run(at)
    at.button(key="remove_model").click()
    run(at)
    assert "my-lda" not in at.session_state["models"]


class Exploit:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_sessions_do_not_share_corpus_or_models(trained):
    other = new_app()
    assert other.session_state["dataset_name"] == resources.DEMO_NAME
    assert other.session_state["models"] == {}
    assert trained.session_state["dataset_name"] == "upload: planted.csv"


def test_models_settings_are_kept_after_visiting_another_page(trained):
    kept = assert_settings_kept(trained, "pages/models.py", "pages/explore.py")
    assert set(kept) == {"models_pick", "csv_model", "csv_split"}
