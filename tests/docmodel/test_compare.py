"""``docmodel compare``: a small planted corpus, tiny training budgets; the report's numbers must
equal those recomputed from the saved models."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import scipy.sparse as sp

from corpora.corpus import Corpus, Dataset
from corpora.vocabulary import Vocabulary
from docmodel.cli import main
from docmodel.compare import CompareSettings, recompute_report, run_compare, validation_split
from docmodel.errors import ModelError
from docmodel.report import reading

N_BLOCKS, BLOCK = 4, 8


def planted_dataset(seed=0, n_train=260, n_test=80, labels=True):
    """Documents from 4 topics, each owning 8 words; the label is the dominant topic."""
    rng = np.random.default_rng(seed)
    n_words = N_BLOCKS * BLOCK
    beta = np.zeros((N_BLOCKS, n_words))
    for k in range(N_BLOCKS):
        beta[k, k * BLOCK : (k + 1) * BLOCK] = rng.dirichlet(np.full(BLOCK, 5.0))

    def corpus(n, prefix):
        theta = rng.dirichlet(np.full(N_BLOCKS, 0.3), size=n)
        X = sp.csr_matrix(np.array([rng.multinomial(rng.integers(20, 60), p) for p in theta @ beta]))
        return Corpus(
            X=X,
            vocabulary=vocabulary,
            doc_ids=[f"{prefix}{i}" for i in range(n)],
            labels=[f"topic{k}" for k in theta.argmax(axis=1)] if labels else None,
        )

    vocabulary = Vocabulary(tuple(f"w{j}" for j in range(n_words)))
    return Dataset(train=corpus(n_train, "train"), test=corpus(n_test, "test"))


QUICK = {
    "n_units": N_BLOCKS,
    "n_samples": 10,
    "n_val_docs": 30,
    "sbn_params": {"max_epochs": 4, "batch_size": 32},
    "lda_params": {"max_iter": 8},
    "nvil_params": {"encoder_dreams": 0.5, "encoder_dropout_words": False},
}


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    dataset = planted_dataset()
    dataset.save(root / "corpus")
    report = run_compare(dataset, root / "report", CompareSettings(**QUICK), corpus_dir=root / "corpus")
    return root, report


def test_report_files_and_keys(compared):
    root, report = compared
    out = root / "report"
    for name in ("report.json", "report.md", "per_document.csv", "training_curves.png", "scatter_bound.png",
                 "npmi_per_unit.png"):
        assert (out / name).stat().st_size > 0, name
    for name in ("sbn_nvil", "sbn_wake_sleep", "lda"):
        assert (out / "models" / name / "model.pt").exists()
    assert json.loads((out / "report.json").read_text()) == report
    assert list(report["models"]) == ["sbn_nvil", "sbn_wake_sleep", "lda"]
    for name, fig in report["models"].items():
        for key in ("perplexity_bound", "perplexity_is", "perplexity_completion", "perplexity_bound_per_word",
                    "perplexity_is_per_word", "perplexity_completion_per_word", "npmi", "diversity",
                    "train_seconds", "label_accuracy"):
            assert isinstance(fig[key], float) and math.isfinite(fig[key]), (name, key)
        assert len(fig["npmi_per_unit"]) == N_BLOCKS and len(fig["top_words"]) == N_BLOCKS
        assert fig["curve"]["seconds"] and len(fig["curve"]["seconds"]) == len(fig["curve"]["val_perplexity_bound"])
    assert "sklearn_perplexity_per_word" in report["models"]["lda"]
    # Epochs, not history entries (with short epochs one entry covers several).
    assert report["models"]["sbn_nvil"]["epochs"] == 4 and report["models"]["lda"]["epochs"] == 8
    assert "sklearn_perplexity_per_word" not in report["models"]["sbn_nvil"]
    # 30 validation documents were asked for; a tenth of the 260 training documents is the cap.
    assert report["corpus"]["n_docs_train"] == 234 and report["corpus"]["n_docs_val"] == 26
    assert report["settings"]["models"] == ["sbn_nvil", "sbn_wake_sleep", "lda"]
    # NVIL-only options reach the NVIL model and not wake-sleep's, and the report names them.
    from docmodel.checkpoint import load_model

    nvil, ws = (load_model(out / "models" / name) for name in ("sbn_nvil", "sbn_wake_sleep"))
    assert (nvil.encoder_dreams, nvil.encoder_dropout_words) == (0.5, False)
    assert (ws.encoder_dreams, ws.encoder_dropout_words) == (0.0, True)
    assert "NVIL: encoder_dreams=0.5; NVIL: encoder_dropout_words=False" in (out / "report.md").read_text()


def test_report_numbers_equal_recomputed_ones(compared):
    root, report = compared
    recomputed = recompute_report(root / "report", root / "corpus")
    assert set(recomputed["models"]) == set(report["models"])
    for name, figures in recomputed["models"].items():
        for key, value in figures.items():
            # Equal, except that float32 BLAS under a loaded machine may reorder sums (the SBN's
            # figures then move in the 7th digit; LDA's are bit-identical).
            expected = pytest.approx(value, rel=1e-6) if isinstance(value, float) else value
            assert report["models"][name][key] == expected, (name, key)


def test_planted_topics_give_lda_sensible_figures(compared):
    _, report = compared
    lda = report["models"]["lda"]
    # Four topics over 32 words: the planted blocks make coherent, disjoint top-10 lists and
    # predictable labels (chance is about 25%).
    assert lda["npmi"] > 0 and lda["label_accuracy"] > 0.5
    assert lda["perplexity_is"] <= lda["perplexity_bound"]


def test_markdown_report(compared):
    root, report = compared
    text = (root / "report" / "report.md").read_text()
    assert "| figure | SBN (NVIL) | SBN (wake-sleep) | LDA (scikit-learn, batch VB) |" in text
    assert "ranked by one rule, relevance with lambda = 0.6" in text
    assert "| Likelihood (the three perplexities above) | estimated | estimated | estimated |" in text
    assert all(fig["exact"] is False for fig in report["models"].values())
    assert "![training curves](training_curves.png)" in text
    for sentence in reading(report):
        assert sentence in text
    assert f"{report['models']['lda']['perplexity_bound']:.1f}" in text
    assert " ".join(report["models"]["lda"]["top_words"][0]) in text
    # No --max-minutes and no model with a budget of its own: the settings line says so, and
    # no model can have used one up.
    assert "no time budget (each model stopped by its own rule)." in text
    assert "used up its time budget" not in text


def test_report_numbers_units_as_docmodel_topics_does(compared, capsys):
    """One numbering everywhere: the report's unit k is the k that ``docmodel topics`` (and the
    app, and the CSV exports) print, counted from 0."""
    root, report = compared
    text = (root / "report" / "report.md").read_text()
    assert "Units are numbered from 0" in text
    for name, unit in (("sbn_nvil", "unit"), ("lda", "topic")):
        section = text.split(f"### {report['models'][name]['label']}\n", 1)[1].split("###", 1)[0]
        lines = re.findall(rf"^- {unit} (\d+) \(NPMI [^)]*\): (.*)$", section, flags=re.M)
        in_report = {int(number): words.split() for number, words in lines}
        capsys.readouterr()
        assert main(["topics", str(root / "report" / "models" / name), "--top", "10"]) == 0
        printed = {int(line.split()[0]): line.split("  (on in")[0].split()[1:]
                   for line in capsys.readouterr().out.splitlines() if not line.startswith("#")}
        assert in_report == printed and min(printed) == 0 and len(printed) == N_BLOCKS


def test_budget_wording_agrees_with_the_settings():
    """The settings line and the reading never contradict each other on time budgets, whether
    the budget was shared out by compare, set per model (the app) or absent."""
    from docmodel.report import budget_text

    def report(max_minutes=None, **models):
        return {"settings": {"max_minutes": max_minutes, "budget_rule": "equal share"},
                "models": {name: {"label": name, "train_seconds": 59.6, **fig} for name, fig in models.items()},
                "corpus": {}}

    per_model = report(sbn={"budget_seconds": 60.0, "stopped": "time_budget"},
                       lda={"budget_seconds": None, "stopped": "early_stopping"})
    assert budget_text(per_model) == "a time budget per model (sbn: 60 s, lda: none)"
    assert "sbn used up its time budget (60 s)" in " ".join(reading(per_model))
    assert "lda used up" not in " ".join(reading(per_model))
    shared = report(2.0, sbn={"budget_seconds": 80.0, "stopped": "time_budget"})
    assert budget_text(shared) == "2 minutes of training in all (equal share)"
    assert "sbn used up its time budget (80 s)" in " ".join(reading(shared))
    none = report(sbn={"budget_seconds": None, "stopped": "max_epochs"}, lda={"stopped": "early_stopping"})
    assert budget_text(none) == "no time budget (each model stopped by its own rule)"
    assert not any("time budget" in sentence for sentence in reading(none))


def test_reading_names_winners_and_margins():
    def fig(bound, completion, npmi, acc, stopped="early_stopping"):
        return {"perplexity_bound": bound, "perplexity_is": bound - 10, "perplexity_completion": completion,
                "npmi": npmi, "diversity": 0.8, "label_accuracy": acc, "stopped": stopped, "train_seconds": 60.0}

    report = {
        "models": {
            "sbn_nvil": {**fig(900.0, 1000.0, 0.10, 0.60, "time_budget"), "label": "SBN (NVIL)"},
            "lda": {**fig(1000.0, 950.0, 0.15, 0.55), "label": "LDA"},
            "sbn_wake_sleep": {**fig(1010.0, 955.0, 0.149, 0.50), "label": "SBN (WS)", "diversity": 0.8},
        },
        "corpus": {"n_docs_test": 500},
    }
    text = "\n".join(reading(report))
    assert "Perplexity, bound (per document): SBN (NVIL) is best at 900.0, 10.0% below LDA (1000.0); SBN (WS) is last (1010.0)." in text
    assert "NPMI coherence (top 10 words, mean over units): LDA is best at 0.150, +0.001 over SBN (WS) (0.149), a margin too small to call" in text
    assert "SBN (NVIL) is best at 60.0%, 5.0 points above LDA (55.0%)" in text
    assert "SBN (NVIL), LDA and SBN (WS) tie on topic diversity (top 25 words) (0.800)." in text
    # Within 1% (perplexity) or 0.01 (NPMI, accuracy) the reading declines to call a winner.
    assert "document completion (per document): LDA is best at 950.0, 0.5% below SBN (WS) (955.0), a margin too small to call" in text
    assert "disagree on the best model" in text
    assert "SBN (NVIL) used up its time budget (60 s)" in text
    assert "With only 500 test documents" in text


def test_cli_compare_lda_only(tmp_path, capsys):
    planted_dataset(seed=1).save(tmp_path / "corpus")
    code = main(["compare", str(tmp_path / "corpus"), "--units", "4", "--samples", "5", "--val-docs", "20",
                 "--max-minutes", "0.05", "--models", "lda", "--out", str(tmp_path / "report")])
    assert code == 0
    out = capsys.readouterr().out
    assert "LDA (scikit-learn, batch VB)" in out and "report.md" in out
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert list(report["models"]) == ["lda"] and report["settings"]["max_minutes"] == 0.05
    # No SBN, no scatter plot; the budget went to the one model.
    assert not (tmp_path / "report" / "scatter_bound.png").exists()
    assert report["models"]["lda"]["budget_seconds"] == pytest.approx(3.0, abs=0.5)


def test_cli_compare_table_columns_line_up_with_a_long_label(tmp_path, capsys):
    planted_dataset(seed=1).save(tmp_path / "corpus")
    assert main(["compare", str(tmp_path / "corpus"), "--units", "3", "--samples", "5", "--val-docs", "20",
                 "--max-minutes", "0.1", "--models", "sbn_nvil_net,lda", "--out", str(tmp_path / "report")]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model "))
    rows = lines[header + 1 : header + 3]
    assert rows[0].startswith("SBN (NVIL, q without mean-field updates)") and rows[1].startswith("LDA")
    assert {len(line) for line in lines[header : header + 3]} == {len(lines[header])}  # every column right-aligned at the same place


def test_cli_errors(tmp_path, capsys):
    Dataset(train=planted_dataset().train).save(tmp_path / "no_test")
    assert main(["compare", str(tmp_path / "no_test"), "--out", str(tmp_path / "r")]) == 2
    assert "compare needs a corpus with a test split" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "no_test"), "--models", "lda,gpt", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--models takes 'all' or a comma-separated list of sbn_nvil, sbn_wake_sleep" in err and "got 'lda,gpt'" in err


def test_settings_and_split_errors():
    with pytest.raises(ModelError, match="unknown model 'lsa'"):
        CompareSettings(models=("lda", "lsa"))
    with pytest.raises(ModelError, match="models must name each model once"):
        CompareSettings(models=("lda", "lda"))
    with pytest.raises(ModelError, match="n_units must be a positive integer, got 0"):
        CompareSettings(n_units=0)
    with pytest.raises(ModelError, match="model_params names unknown models: lsa"):
        CompareSettings(model_params={"lsa": {"n_iter": 2}})
    with pytest.raises(ModelError, match="max_minutes must be positive, got -1"):
        CompareSettings(max_minutes=-1)
    with pytest.raises(ModelError, match="at least 2 are needed to hold out 1"):
        validation_split(1, 100, 0)
    train, val = validation_split(200, 10, 3)
    assert len(val) == 10 and sorted(np.r_[train, val].tolist()) == list(range(200))
    # At most a tenth of the documents are held out.
    assert len(validation_split(50, 10, 3)[1]) == 5


def test_recompute_refuses_another_corpus(compared, tmp_path):
    root, _ = compared
    other = planted_dataset()
    renamed = Vocabulary(tuple(f"v{j}" for j in range(N_BLOCKS * BLOCK)))
    Dataset(
        train=Corpus(X=other.train.X, vocabulary=renamed, doc_ids=other.train.doc_ids),
        test=Corpus(X=other.test.X, vocabulary=renamed, doc_ids=other.test.doc_ids),
    ).save(tmp_path / "other")
    with pytest.raises(ModelError, match="trained on another vocabulary than the corpus"):
        recompute_report(root / "report", tmp_path / "other")
    with pytest.raises(ModelError, match="holds no report.json"):
        recompute_report(tmp_path, tmp_path / "other")


def test_labels_absent_give_no_label_accuracy(tmp_path):
    dataset = planted_dataset(labels=False)
    report = run_compare(dataset, tmp_path / "r", CompareSettings(**{**QUICK, "models": ("lda",)}))
    assert report["models"]["lda"]["label_accuracy"] is None
    assert "Label accuracy" not in (tmp_path / "r" / "report.md").read_text()


@pytest.mark.parametrize("name", ["sbn_nvil", "lda"])
def test_topics_cli_words_give_the_reported_npmi_by_gensim(compared, capsys, name):
    """The words ``docmodel topics`` prints, scored by gensim's c_npmi with a window covering whole
    training documents, give the NPMI the report states."""
    pytest.importorskip("gensim")
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    root, report = compared
    capsys.readouterr()
    assert main(["topics", str(root / "report" / "models" / name), "--top", "10"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    topics = [line.split(None, 1)[1].split("  (on in")[0].split() for line in lines]
    assert topics == report["models"][name]["top_words"]
    train = Dataset.load(root / "corpus").train
    words = train.vocabulary.words
    texts = [[words[j] for j in row.indices] for row in train.X]
    texts = [t for t in texts if t]  # gensim skips nothing; empty documents count in N for ours
    assert len(texts) == train.n_docs
    dictionary = Dictionary(texts)
    reference = CoherenceModel(
        topics=topics, texts=texts, dictionary=dictionary, coherence="c_npmi",
        window_size=max(len(t) for t in texts), topn=10, processes=1,
    ).get_coherence_per_topic()
    np.testing.assert_allclose(np.mean(reference), report["models"][name]["npmi"], rtol=1e-9, atol=1e-12)
