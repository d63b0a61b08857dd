"""``docmodel sweep``: the planted corpus of the compare tests, two sizes, two models, tiny
training; an interrupted sweep continues with exactly the missing pairs."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from corpora.corpus import Dataset
from docmodel.cli import main
from docmodel.compare import CompareSettings
from docmodel.errors import ModelError
from docmodel.sweep import SweepSettings, measure_pair, new_sweep, run_sweep, sweep_data, train_pair
from docmodel.sweep_report import choice_reading, per_doubling
from tests.docmodel.test_compare import planted_dataset

SETTINGS = SweepSettings(
    units=(4, 2),
    compare=CompareSettings(
        models=("sbn_nvil", "lda"),
        n_samples=10,
        n_val_docs=30,
        sbn_params={"max_epochs": 2, "batch_size": 32},
        lda_params={"max_iter": 3},
    ),
)
PAIRS = [("sbn_nvil", 2), ("lda", 2), ("sbn_nvil", 4), ("lda", 4)]
FINITE = ("perplexity_bound", "perplexity_is", "perplexity_completion", "perplexity_bound_per_word",
          "perplexity_is_per_word", "perplexity_completion_per_word", "npmi", "diversity", "label_accuracy",
          "train_seconds", "best_val_perplexity_bound")


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    dataset = planted_dataset()
    dataset.save(root / "corpus")
    sweep = run_sweep(dataset, root / "sweep", SETTINGS, corpus_dir=root / "corpus")
    return root, dataset, sweep


def test_sweep_writes_table_json_and_plots(swept):
    root, _, sweep = swept
    out = root / "sweep"
    assert json.loads((out / "sweep.json").read_text()) == sweep
    assert [(p["model"], p["n_units"]) for p in sweep["pairs"]] == PAIRS
    assert sweep["settings"]["units"] == [2, 4]  # sizes are kept in increasing order
    for pair in sweep["pairs"]:
        fig = pair["figures"]
        for key in FINITE:
            assert isinstance(fig[key], float) and math.isfinite(fig[key]), (pair["model"], pair["n_units"], key)
        assert fig["n_units"] == pair["n_units"] and len(fig["npmi_per_unit"]) == pair["n_units"]
        assert (out / pair["model_dir"] / "model.pt").exists()
    assert sweep["pairs"][0]["figures"]["epochs"] == 2 and sweep["pairs"][1]["figures"]["epochs"] == 3
    for name in ("perplexity.png", "npmi.png", "diversity.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    text = (out / "sweep.md").read_text()
    assert "| units | sbn_nvil: val bound | sbn_nvil: test bound |" in text
    lda_4 = sweep["pairs"][3]["figures"]
    assert f"| {lda_4['best_val_perplexity_bound']:.1f} | {lda_4['perplexity_bound']:.1f} |" in text
    assert text.count("\n| 2 | ") == 1 and text.count("\n| 4 | ") == 1
    assert "4 of 4 (model, size) pairs finished." in text
    for sentence in choice_reading(sweep):
        assert sentence in text
    assert "The test figures are results, not a guide to the choice." in text
    assert "![perplexity](perplexity.png)" in text


def test_the_pieces_of_run_sweep_give_its_pairs_one_by_one(swept):
    """What another driver (the app's background sweep) runs: the same documents, header and, pair
    by pair, the same model and figures as run_sweep; a callback that answers True stops a pair."""
    root, dataset, sweep = swept
    data = sweep_data(dataset, SETTINGS)
    assert (data.X_train.shape[0], data.X_val.shape[0]) == (sweep["corpus"]["n_docs_train"], sweep["corpus"]["n_docs_val"])
    fresh = json.loads(json.dumps(new_sweep(dataset, SETTINGS, data, root / "corpus")))
    assert fresh == dict(sweep, pairs=[])
    model = train_pair(dataset, data, SETTINGS, "lda", 4)
    pair = measure_pair(dataset, SETTINGS, "lda", 4, model)
    whole = sweep["pairs"][3]
    assert pair["model_dir"] is None and {k: pair[k] for k in ("model", "n_units", "label", "budget_seconds")} == {
        k: whole[k] for k in ("model", "n_units", "label", "budget_seconds")}
    for key in (k for k in FINITE if k != "train_seconds"):
        assert pair["figures"][key] == pytest.approx(whole["figures"][key], rel=1e-6), key
    reports = []
    stopped = train_pair(dataset, data, SETTINGS, "lda", 2, callback=lambda metrics: reports.append(metrics) or True)
    assert len(reports) == 1 and (stopped.n_iter_, stopped.stopped_) == (1, "cancelled")
    with pytest.raises(ModelError, match="sweep needs a corpus with a test split"):
        sweep_data(Dataset(train=dataset.train), SETTINGS)


def test_interrupted_sweep_trains_only_the_missing_pairs(swept, tmp_path):
    _, dataset, full = swept
    trained = []

    def interrupt_second_pair(name, n_units):
        trained.append((name, n_units))

        def callback(metrics):
            if len(trained) == 2:
                raise KeyboardInterrupt
        return callback

    with pytest.raises(KeyboardInterrupt):
        run_sweep(dataset, tmp_path, SETTINGS, callback_factory=interrupt_second_pair)
    kept = json.loads((tmp_path / "sweep.json").read_text())
    assert [(p["model"], p["n_units"]) for p in kept["pairs"]] == [("sbn_nvil", 2)]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["sbn_nvil-2"]
    assert "1 of 4 (model, size) pairs finished; rerun the same command" in (tmp_path / "sweep.md").read_text()
    stamp = (tmp_path / "models" / "sbn_nvil-2" / "model.pt").stat().st_mtime_ns

    trained.clear()
    sweep = run_sweep(dataset, tmp_path, SETTINGS, callback_factory=lambda name, n: trained.append((name, n)))
    assert trained == PAIRS[1:]
    assert sweep["pairs"][0] == kept["pairs"][0]
    assert (tmp_path / "models" / "sbn_nvil-2" / "model.pt").stat().st_mtime_ns == stamp
    # Each pair is trained with the same seed and split whatever came before it: the continued
    # sweep gives the figures of the uninterrupted one (float32 sums may move the 7th digit).
    for resumed, whole in zip(sweep["pairs"], full["pairs"]):
        assert (resumed["model"], resumed["n_units"]) == (whole["model"], whole["n_units"])
        for key in FINITE[:-3] + ("best_val_perplexity_bound",):
            assert resumed["figures"][key] == pytest.approx(whole["figures"][key], rel=1e-6), key
    # A finished sweep run again trains nothing.
    trained.clear()
    assert run_sweep(dataset, tmp_path, SETTINGS, callback_factory=lambda name, n: trained.append(n))["pairs"] == sweep["pairs"]
    assert trained == []


def test_rerun_with_other_settings_is_refused(swept, capsys):
    root, dataset, _ = swept
    other = SweepSettings(units=(2, 8), compare=replace(SETTINGS.compare, seed=1))
    with pytest.raises(ModelError, match=r"holds a sweep with other settings \(units: 2,4 there, 2,8 now; seed: 0 there, "
                                         r"1 now\); to continue it, rerun with the options it was started with; to "
                                         r"sweep these settings, choose another output directory"):
        run_sweep(dataset, root / "sweep", other)
    code = main(["sweep", str(root / "corpus"), "--units", "2,4", "--models", "sbn_nvil,lda", "--samples", "10",
                 "--val-docs", "30", "-o", str(root / "sweep")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("docmodel sweep: error: ") and "\n" not in err
    assert "max_minutes_per_pair" not in err and "sbn_params: " in err and "lda_params: " in err
    with pytest.raises(ModelError, match=r"other settings \(corpus: \S+ there \(other documents or vocabulary\)\)"):
        run_sweep(planted_dataset(seed=5), root / "sweep", SETTINGS)


def test_a_damaged_or_foreign_sweep_file_is_refused(tmp_path):
    dataset = planted_dataset()
    (tmp_path / "sweep.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"cannot read .*sweep.json \(.*\); remove it or choose another output directory"):
        run_sweep(dataset, tmp_path, SETTINGS)
    (tmp_path / "sweep.json").write_text(json.dumps({"models": {}}))
    with pytest.raises(ModelError, match=r"sweep.json is not a docmodel sweep file; choose another output directory"):
        run_sweep(dataset, tmp_path, SETTINGS)


def test_cli_sweep_prints_the_table(tmp_path, capsys):
    planted_dataset(seed=1, labels=False).save(tmp_path / "corpus")
    code = main(["sweep", str(tmp_path / "corpus"), "--units", "3,2", "--models", "lda", "--samples", "5",
                 "--val-docs", "20", "--max-minutes", "0.005", "-o", str(tmp_path / "sweep")])
    assert code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "LDA" in lines[0] and lines[1].split()[:3] == ["units", "val", "bound"]
    assert [line.split()[0] for line in lines[2:4]] == ["2", "3"]
    assert f"sweep written to {tmp_path / 'sweep'}/sweep.md" in out
    sweep = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert sweep["settings"]["max_minutes_per_pair"] == 0.005
    assert all(p["budget_seconds"] == pytest.approx(0.3) for p in sweep["pairs"])


def test_cli_interrupt_says_how_to_continue(tmp_path, capsys, monkeypatch):
    import docmodel.sweep

    planted_dataset().save(tmp_path / "corpus")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(docmodel.sweep, "run_sweep", interrupted)
    assert main(["sweep", str(tmp_path / "corpus"), "--units", "2,4", "-o", str(tmp_path / "s")]) == 130
    assert ("docmodel sweep: interrupted; 0 of 4 (model, size) pairs are saved in "
            f"{tmp_path / 's'}. To continue, run the same command again") in capsys.readouterr().err


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--models", "lda,gpt", "--models takes 'all' or a comma-separated list of sbn_nvil"),
    ("--units", "10,abc", "--units takes a comma-separated list of positive integers, such as 10,20,50; got '10,abc'"),
    ("--units", "10,0", "got '10,0'"),
    ("--units", "-5", "got '-5'"),
    ("--units", "2.5", "got '2.5'"),
    ("--units", "10,10", "units must name each size once; got 10, 10"),
    ("--max-minutes", "0", "max_minutes must be positive, got 0.0"),
])
def test_cli_bad_options(tmp_path, capsys, option, value, message):
    planted_dataset().save(tmp_path / "corpus")
    args = ["sweep", str(tmp_path / "corpus"), "-o", str(tmp_path / "s"), "--units", "2", f"{option}={value}"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("docmodel sweep: error: ") and "\n" not in err and message in err
    assert not (tmp_path / "s").exists()


def test_cli_refuses_a_corpus_without_test_split(tmp_path, capsys):
    Dataset(train=planted_dataset().train).save(tmp_path / "no_test")
    assert main(["sweep", str(tmp_path / "no_test"), "--units", "2", "-o", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err.strip() == (
        "docmodel sweep: error: sweep needs a corpus with a test split; prepare it with a test split (--test-fraction)"
    )


def _synthetic(val_by_model: dict, stopped="early_stopping", n_test=500) -> dict:
    units = sorted({s for vals in val_by_model.values() for s in vals})
    return {
        "settings": {"units": units, "models": list(val_by_model), "max_minutes_per_pair": 1.0},
        "corpus": {"n_docs_val": 100, "n_docs_test": n_test},
        "pairs": [{"model": name, "n_units": s, "label": name.upper(),
                   "figures": {"best_val_perplexity_bound": v, "stopped": stopped, "epochs": 7 if s == 10 else 5}}
                  for name, vals in val_by_model.items() for s, v in vals.items()],
    }


def test_per_doubling_normalises_uneven_steps():
    assert per_doubling(1000.0, 900.0, 10, 20) == pytest.approx(0.1)
    # 20 -> 80 is two doublings: 19% in all is 10% per doubling.
    assert per_doubling(1000.0, 810.0, 20, 80) == pytest.approx(0.1)
    assert per_doubling(1000.0, 1010.0, 10, 20) == pytest.approx(-0.01)


def test_reading_names_the_best_size_and_the_plateau():
    sweep = _synthetic({
        "a": {10: 1000.0, 20: 900.0, 50: 890.0, 100: 860.0},
        "b": {10: 1000.0, 20: 950.0, 40: 900.0},
        "c": {10: 1000.0, 20: 1020.0},
        "d": {10: 1000.0},
    })
    text = "\n".join(choice_reading(sweep))
    assert ("A: the best validation bound is at 100 units (860.0), the largest size tried. "
            "From 20 units on it stops improving by more than 1% per doubling (20 -> 50: 900.0 -> 890.0, improves by "
            "0.8% per doubling), though it improves again from 50 to 100 units (3.4% per doubling).") in text
    assert ("B: the best validation bound is at 40 units (900.0), the largest size tried. Every step up to 40 "
            "units improves it by more than 1% per doubling (the last, 20 -> 40: 950.0 -> 900.0, 5.3% per "
            "doubling): it has not levelled off in the sizes tried, and a larger size may do better.") in text
    assert ("C: the best validation bound is at 10 units (1000.0), the smallest size tried. "
            "From 10 units on it stops improving by more than 1% per doubling (10 -> 20: 1000.0 -> 1020.0, worsens by "
            "2.0% per doubling).") in text
    assert "D: the best validation bound is at 10 units (1000.0); it is the only size finished" in text
    assert "documents held out from the training split" in text and "compare sizes within a model" in text
    assert "With only 500 test documents" in text


def test_reading_warns_about_time_budgets_and_missing_bounds():
    sweep = _synthetic({"a": {10: 1000.0, 20: 900.0}}, stopped="time_budget", n_test=5000)
    sweep["settings"]["models"].append("b")
    text = "\n".join(choice_reading(sweep))
    assert "A used up its time budget (1 min per size) at 10 and 20 units (7 and 5 epochs)" in text
    assert "The step up to 20 units improves it by more than 1% per doubling (10 -> 20: 1000.0 -> 900.0" in text
    assert "b: no finished size has a validation bound, so no size is chosen." in text
    assert "With only" not in text


def test_settings_errors():
    with pytest.raises(ModelError, match=r"units must be positive integers, at least one; got 10, 0"):
        SweepSettings(units=(10, 0))
    with pytest.raises(ModelError, match="got none"):
        SweepSettings(units=())
    with pytest.raises(ModelError, match="unknown model 'lsa'"):
        SweepSettings(compare=CompareSettings(models=("lda", "lsa")))


def test_settings_read_back_from_their_record():
    settings = SweepSettings(units=(20, 10), compare=CompareSettings(
        models=("lda", "sbn_nvil"), max_minutes=0.5, seed=3, sbn_params={"max_epochs": 2}))
    recorded = json.loads(json.dumps(settings.to_dict()))
    assert SweepSettings.from_dict(recorded) == settings
    with pytest.raises(ModelError, match="sweep settings must be a mapping with a list of units"):
        SweepSettings.from_dict({"units": "10"})
