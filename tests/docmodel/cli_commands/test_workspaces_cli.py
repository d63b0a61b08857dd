"""``docmodel workspaces list|remove|prune`` on a data directory made here, and the workspace
flags of ``docmodel app`` (checked, created, passed to the app's server)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import scipy.sparse as sp

from docmodel.cli import main
from docmodel.workspace import Store, runs
from docmodel.workspace.files import read_json, write_json

DAY = 86_400


def aged(ws, days: float) -> None:
    """Make ``ws`` look untouched for ``days``."""
    index = read_json(ws.path / "index.json")
    index["touched"] = time.time() - days * DAY
    write_json(ws.path / "index.json", index)


def training(ws) -> None:
    """A run queued in this (live) process."""
    X = sp.csr_matrix(np.ones((3, 2)))
    runs.create_run(ws, name="busy", kind="lda", params={}, settings={}, max_epochs=1, max_seconds=None,
                    X=X, X_val=X, words=None)


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "data")


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_shows_each_workspace(store, capsys):
    assert cli(capsys, "workspaces", "list", "--data-dir", str(store.root))[2].startswith("no workspaces in")
    old, new = store.create(), store.create()
    aged(old, 40)
    new.set_demo_corpus("demo: Lee news stories", "{}")
    training(new)
    code, out, err = cli(capsys, "workspaces", "list", "--data-dir", str(store.root))
    assert code == 0 and "2 workspaces" in err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["id", "last", "used"]
    assert lines[1].startswith(new.id) and "demo: Lee news stories" in lines[1] and lines[1].split()[7] == "1"
    assert lines[2].startswith(old.id) and "40.0 days ago" in lines[2]
    code, out, _ = cli(capsys, "workspaces", "list", "--json", "--data-dir", str(store.root))
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == [new.id, old.id] and rows[0]["live_runs"] == 1 and rows[1]["n_models"] == 0


def test_the_data_dir_defaults_to_the_environment_s(store, capsys, monkeypatch):
    ws = store.create()
    monkeypatch.setenv("DOCMODEL_DATA_DIR", str(store.root))
    assert ws.id in cli(capsys, "workspaces", "list")[1]


def test_remove_one_workspace(store, capsys):
    a, b = store.create(), store.create()
    code, out, _ = cli(capsys, "workspaces", "remove", a.id, "--data-dir", str(store.root))
    assert code == 0 and out.startswith(f"removed workspace {a.id}")
    assert store.ids() == [b.id] and not a.path.exists()
    assert list(store.folder.iterdir()) == [b.path]  # no trash left


@pytest.mark.parametrize("bad", ["../x", "..", "x" * 23, "a/b/c"])
def test_remove_refuses_what_is_not_a_workspace_id(store, capsys, bad):
    store.create()
    (store.root / "x").mkdir(parents=True)
    code, _, err = cli(capsys, "workspaces", "remove", bad, "--data-dir", str(store.root))
    assert code == 2 and f"{bad!r} is not a workspace id (22 letters, digits, '-' or '_')" in err
    assert (store.root / "x").is_dir() and len(store.ids()) == 1


def test_remove_refuses_an_unknown_workspace_and_one_that_trains(store, capsys):
    ws = store.create()
    unknown = ws.id[:-1] + ("A" if ws.id[-1] != "A" else "B")
    code, _, err = cli(capsys, "workspaces", "remove", unknown, "--data-dir", str(store.root))
    assert code == 2 and f"no workspace {unknown} in {store.folder}" in err
    training(ws)
    code, _, err = cli(capsys, "workspaces", "remove", ws.id, "--data-dir", str(store.root))
    assert code == 2 and "has a training run going on; cancel it on the app's Train page" in err
    assert store.ids() == [ws.id]


def test_prune_removes_only_old_idle_workspaces(store, capsys):
    old, recent, old_busy = store.create(), store.create(), store.create()
    aged(old, 10)
    aged(recent, 2)
    aged(old_busy, 10)
    training(old_busy)
    code, out, err = cli(capsys, "workspaces", "prune", "--older-than", "7", "--dry-run", "--data-dir", str(store.root))
    assert code == 0 and out.startswith(f"would remove {old.id}") and len(store.ids()) == 3
    assert f"kept {old_busy.id}: a training run is going on in it" in err
    code, out, err = cli(capsys, "workspaces", "prune", "--older-than", "7", "--data-dir", str(store.root))
    assert code == 0 and out.startswith(f"removed {old.id}") and "removed 1 workspaces unused for 7 days" in err
    assert store.ids() == sorted([recent.id, old_busy.id])
    code, _, err = cli(capsys, "workspaces", "prune", "--older-than", "-1", "--data-dir", str(store.root))
    assert code == 2 and "--older-than must be a number of days >= 0, got -1" in err


# ---- docmodel app's workspace flags -------------------------------------------------------------
def test_app_passes_its_workspace_settings_to_the_server(tmp_path, monkeypatch):
    from docmodel.cli_commands import app as app_command

    seen = {}

    def call(cmd, cwd=None, env=None):
        seen.update(env)
        return 0

    monkeypatch.setattr(app_command.subprocess, "call", call)
    data = tmp_path / "new" / "data"
    assert main(["app", "--data-dir", str(data), "--max-jobs", "3", "--quota-mb", "50", "--keep-days", "0",
                 "--checkpoint-every", "5"]) == 0
    assert (data / "workspaces").is_dir()  # created on first use
    assert seen["DOCMODEL_DATA_DIR"] == str(data.resolve()) and seen["DOCMODEL_APP_MAX_JOBS"] == "3"
    assert seen["DOCMODEL_APP_QUOTA_MB"] == "50" and seen["DOCMODEL_APP_KEEP_DAYS"] == "0"
    assert seen["DOCMODEL_APP_STATE_SECONDS"] == "5"


@pytest.mark.parametrize("flags, message", [
    (["--max-jobs", "0"], "--max-jobs must be at least 1, got 0"),
    (["--quota-mb", "-1"], "--quota-mb must be 0 (no quota) or more, got -1"),
    (["--keep-days", "-2"], "--keep-days must be 0 (keep) or more, got -2"),
    (["--checkpoint-every", "0"], "--checkpoint-every must be a positive number of seconds, got 0"),
])
def test_app_refuses_bad_workspace_settings(tmp_path, capsys, flags, message):
    code, _, err = cli(capsys, "app", "--data-dir", str(tmp_path), *flags)
    assert code == 2 and message in err


def test_app_refuses_a_data_dir_it_cannot_create(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = cli(capsys, "app", "--data-dir", str(blocker / "data"))
    assert code == 2 and f"cannot create the data directory {blocker / 'data'}" in err


def test_new_ids_never_start_with_a_dash(store, monkeypatch):
    """An id is typed on command lines (``docmodel workspaces remove ID``), where "-..." is an option."""
    import secrets

    ids = iter(["-" + "a" * 21, "b" * 22])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: next(ids))
    assert store.create().id == "b" * 22
