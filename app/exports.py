"""What the Models page hands out and takes in: checkpoint bytes, CSV tables, uploaded models."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from corpora import Corpus
from docmodel.checkpoint import load_model
from docmodel.models import model_kind


def checkpoint_bytes(model) -> bytes:
    """The fitted model as one plain-data ``.pt`` file (see :mod:`docmodel.checkpoint`)."""
    with tempfile.TemporaryDirectory(prefix="docmodel-export-") as folder:
        path = Path(folder) / "model.pt"
        model.save(path)
        return path.read_bytes()


def model_from_bytes(name: str, data: bytes):
    """A model from an uploaded checkpoint; refused with a ModelError when the file is malformed
    or would need unpickling of objects (``torch.load(weights_only=True)``)."""
    stream = io.BytesIO(data)
    stream.name = name
    return load_model(stream)


def doc_unit_table(model, corpus: Corpus, doc_unit: np.ndarray | None = None) -> pd.DataFrame:
    """One row per document: id, label (when there are labels) and the model's representation,
    q(h_k=1|x) for an SBN (columns ``q_unit_k``) or topic proportions for LDA (``topic_k``)."""
    weights = np.asarray(model.transform(corpus.X) if doc_unit is None else doc_unit)
    prefix = model_kind(model).export_prefix
    table = pd.DataFrame(weights, columns=[f"{prefix}{k}" for k in range(weights.shape[1])])
    table.insert(0, "doc_id", list(corpus.doc_ids))
    if corpus.labels is not None:
        table.insert(1, "label", list(corpus.labels))
    return table


def top_words_table(model, n: int = 20) -> pd.DataFrame:
    """One row per unit: its ``n`` top words by the one ranking rule (:mod:`docmodel.topwords`,
    relevance at its default lambda), as the Explore page and ``docmodel topics`` show them."""
    words = model.top_words(n)
    width = max((len(w) for w in words), default=0)
    columns = {f"word_{i + 1}": [w[i] if i < len(w) else "" for w in words] for i in range(width)}
    return pd.DataFrame({"unit": np.arange(len(words)), **columns})
