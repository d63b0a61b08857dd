"""Bad bag-of-words files, generated: ``.feat`` and Matrix Market files load as exact counts or
name what is wrong.

``.feat`` lines with bad ids or counts, a pair where the label goes, blank lines and CRLF line ends;
Matrix Market files with other headers, wrong sizes and out-of-range or non-integer entries. The
strategies are in ``bad_inputs.py``; every example runs under a hard time limit, so a hang fails
the test instead of stalling it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from hypothesis import given

from corpora.bow import read_feat, read_mtx
from corpora.errors import CorpusError
from corpora.vocabulary import Vocabulary
from tests.corpora.bad_inputs import N_WORDS, PROPERTY, check_message, feat_lines, mtx_files
from tests.time_limit import time_limit


# --- .feat files ------------------------------------------------------------------------------
@PROPERTY
@given(generated=feat_lines())
def test_feat_lines_load_exactly_or_name_a_bad_line(generated):
    text, kinds, counts = generated
    vocabulary = Vocabulary(tuple(f"w{i}" for i in range(1, N_WORDS + 1)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "t.feat")
        path.write_text(text, encoding="utf-8", newline="")
        with time_limit():
            try:
                bow = read_feat(path, vocabulary)
            except CorpusError as exc:
                check_message(exc)
                bad = {n for n, kind in enumerate(kinds, 1) if kind == "bad"}
                assert bad, f"good file refused: {exc}"
                number = int(str(exc).split(f"{path}:", 1)[1].split(":", 1)[0])
                assert number in bad, f"line {number} is fine: {exc}"
                return
    assert "bad" not in kinds
    assert bow.n_dropped_empty == kinds.count("empty")
    expected = sp.lil_matrix((len(counts), N_WORDS), dtype=np.int64)
    for row, number in enumerate(sorted(counts)):
        for word, count in counts[number].items():
            expected[row, word - 1] = count
    assert (bow.corpus.X != expected.tocsr()).nnz == 0
    assert bow.corpus.doc_ids == tuple(f"t-{n}" for n in sorted(counts))

# --- Matrix Market files ----------------------------------------------------------------------
@PROPERTY
@given(text=mtx_files())
def test_matrix_market_files_load_as_counts_or_raise(text):
    vocabulary = Vocabulary(tuple(f"w{i}" for i in range(N_WORDS)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "t.mtx")
        path.write_text(text, encoding="utf-8")
        with time_limit():
            try:
                bow = read_mtx(path, vocabulary)
            except CorpusError as exc:
                check_message(exc)
                return
    assert "complex" not in text
    X = bow.corpus.X
    assert X.shape[1] == N_WORDS and X.dtype == np.int32
    assert X.nnz == 0 or X.data.min() > 0
    assert np.all(np.diff(X.indptr) > 0)  # empty documents are dropped and counted
