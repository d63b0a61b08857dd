"""``docmodel prepare``: the published 20 Newsgroups bag-of-words counts, flags, and every error
path a user can reach (one line on stderr, exit code 2, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from corpora.corpus import Dataset
from docmodel.cli import main
from tests.conftest import ROOT, shared_path


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["prepare", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_prodlda_feat_files_in_process(tmp_path, capsys):
    folder = shared_path("20news_prodlda")
    code, out, err = run_cli(
        capsys,
        folder / "train.feat",
        "--test",
        folder / "test.feat",
        "--vocab",
        folder / "vocab.new",
        "-o",
        tmp_path / "c",
        "--json",
        tmp_path / "s.json",
    )
    assert code == 0 and err == ""
    summary = json.loads((tmp_path / "s.json").read_text())
    assert {
        k: summary[k]
        for k in ("n_docs_train", "n_docs_test", "n_words", "n_tokens_train", "n_tokens_test")
    } == {
        "n_docs_train": 11258,
        "n_docs_test": 7487,
        "n_words": 1995,
        "n_tokens_train": 991493,
        "n_tokens_test": 629312,
    }
    assert summary["n_dropped_empty"] == 2
    assert "documents" in out and "11,258" in out and "1,995 words" in out
    data = Dataset.load(tmp_path / "c")
    assert (data.train.n_docs, data.test.n_docs, data.train.n_tokens) == (11258, 7487, 991493)


def test_nvdm_feat_files_in_a_subprocess(tmp_path):
    folder = shared_path("20news_nvdm")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "docmodel",
            "prepare",
            str(folder / "train_rebuilt.feat"),
            "--test",
            str(folder / "test.feat"),
            "--vocab",
            str(folder / "vocab.new"),
            "-o",
            str(tmp_path / "c"),
            "--json",
            str(tmp_path / "s.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert [
        summary[k]
        for k in ("n_docs_train", "n_docs_test", "n_words", "n_tokens_train", "n_tokens_test")
    ] == [11268, 7505, 2000, 1128881, 720898]
    assert summary["n_dropped_empty"] == 0 and summary["has_labels"]


def test_text_options_reach_the_tokenizer(tmp_path, capsys):
    source = tmp_path / "docs.csv"
    source.write_text(
        "id,text,label\n"
        'a,"Engines and ENGINES; see http://x.org, mail me@x.org",cars\n'
        'b,"Engine wheels and brakes",cars\n'
        'c,"Orbit rockets rocket launch",space\n'
    )
    (tmp_path / "stop.txt").write_text("# comment\nbrakes\n")
    code, out, err = run_cli(
        capsys,
        source,
        "-o",
        tmp_path / "c",
        "--stem",
        "--min-df",
        "1",
        "--test-fraction",
        "0",
        "--strip-urls",
        "--strip-emails",
        "--extra-stopwords-file",
        tmp_path / "stop.txt",
        "--json",
        tmp_path / "s.json",
    )
    assert code == 0, err
    data = Dataset.load(tmp_path / "c")
    assert set(data.vocabulary.words) == {"engin", "wheel", "orbit", "rocket", "launch", "mail"}
    assert data.train.labels == ("cars", "cars", "space")
    assert data.info["options"]["stem"] and data.info["options"]["extra_stopwords"] == ["brakes"]
    code, _, err = run_cli(
        capsys,
        source,
        "-o",
        tmp_path / "d",
        "--no-lowercase",
        "--stopwords",
        "none",
        "--min-df",
        "1",
        "--max-df",
        "1",
        "--max-words",
        "3",
        "--test-fraction",
        "0",
        "--extra-stopwords",
        "and, see",
        "--min-token-length",
        "3",
        "--token-pattern",
        "[A-Za-z]+",
        "--strip-urls",
        "--strip-emails",
    )
    assert code == 0, err
    assert Dataset.load(tmp_path / "d").vocabulary.words == ("ENGINES", "Engine", "Engines")


def test_lee_summary_table(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "lee", "-o", tmp_path / "lee", "--json", tmp_path / "s.json")
    summary = json.loads((tmp_path / "s.json").read_text())
    assert code == 0 and summary["n_docs_train"] + summary["n_docs_test"] == 300
    lines = out.splitlines()
    assert lines[0].startswith(f"wrote {tmp_path / 'lee'}") and "random (0.2, seed 0)" in lines[0]
    assert lines[1].split() == ["train", "test"]
    assert lines[2].split() == ["documents", "240", "60"]
    assert lines[-1].split() == ["vocabulary", "2,000", "words"]


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "bad.zip").write_bytes(b"this is not a zip archive")
    (tmp_path / "latin.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    (tmp_path / "short.txt").write_text("tiny\n")
    (tmp_path / "x.feat").write_text("1 1:1\n1 9:1\n")
    (tmp_path / "v.new").write_text("who\nout\n")
    return tmp_path


ERRORS = [
    (["missing.txt"], "file not found: missing.txt"),
    (["latin.txt", "--format", "xyz"], "unknown format 'xyz'; choose one of"),
    (["table.csv"], "no text column in table.csv: columns are a, b; choose one with --text-column"),
    (["latin.txt", "--text-column", "a"], "--text-column only applies to tables"),
    (["short.txt", "--min-df", "5"], "no documents left after filtering: of 1 training documents"),
    (["bad.zip"], "cannot read bad.zip as a zip archive"),
    (["latin.txt", "--encoding", "utf-8"], "cannot decode latin.txt as utf-8"),
    (["latin.txt", "--encoding", "klingon"], "unknown encoding 'klingon'"),
    (["latin.txt", "--min-df", "abc"], "--min-df must be an integer, got 'abc'"),
    (["latin.txt", "--max-df", "2"], "max_df must be a fraction in (0, 1], got 2.0"),
    (["latin.txt", "--test-fraction", "half"], "--test-fraction must be a number, got 'half'"),
    (["latin.txt", "--test-fraction", "1.5"], "test_fraction must be in [0, 1), got 1.5"),
    (
        ["latin.txt", "--stopwords", "french"],
        "stopwords must be one of none, english; got 'french'",
    ),
    (
        ["latin.txt", "--strip-headers", "maybe"],
        "strip_headers must be one of off, auto, first-blank-line; got 'maybe'",
    ),
    (
        ["latin.txt", "--token-pattern", "[a-"],
        "token_pattern '[a-' is not a valid regular expression",
    ),
    (["latin.txt", "--min-token-length", "0"], "min_token_length must be at least 1, got 0"),
    (["latin.txt", "--max-words", "0"], "max_words must be at least 1, got 0"),
    (["latin.txt", "--seed", "-3"], "seed must be at least 0, got -3"),
    (["latin.txt", "--extra-stopwords-file", "nope.txt"], "stop-word file not found: nope.txt"),
    (["latin.txt", "--vocab", "nope.new"], "vocabulary file not found: nope.new"),
    (["x.feat"], "x.feat is a bag-of-words file (feat) and needs its vocabulary: give --vocab"),
    (
        ["x.feat", "--vocab", "v.new"],
        "x.feat:2: word id 9 is out of range: the vocabulary has 2 words (ids 1..2)",
    ),
    (
        ["x.feat", "--vocab", "v.new", "--label-column", "y"],
        "--label-column only applies to tables, but x.feat is a bag-of-words file (feat)",
    ),
    (["latin.txt", "--test", "x.feat"], "the source is 'lines' but the test source is 'feat'"),
    (["latin.txt", "--test", "missing.txt"], "file not found: missing.txt"),
]


@pytest.mark.parametrize(("args", "message"), ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_errors_are_one_line_with_exit_code_2(inputs, capsys, monkeypatch, args, message):
    monkeypatch.chdir(inputs)
    code, out, err = run_cli(capsys, *args, "-o", "out")
    assert code == 2
    assert err.startswith("docmodel prepare: error: ") and err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err and not (inputs / "out").exists()


def test_output_that_is_a_file(inputs, capsys):
    (inputs / "taken").write_text("x")
    code, _, err = run_cli(capsys, inputs / "latin.txt", "-o", inputs / "taken")
    assert code == 2 and f"output {inputs / 'taken'} exists and is not a folder" in err
