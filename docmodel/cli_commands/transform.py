"""``docmodel transform MODEL_DIR SOURCE -o OUT [--corpus CORPUS_DIR] [--format csv|jsonl|parquet]``.

Applies a trained model to new documents: any source ``docmodel prepare`` reads is encoded with
the model's own vocabulary (tokenized as the model's corpus was, when ``--corpus`` names it) and
each document gets its unit probabilities or topic proportions, its top units with their labels,
and its bound perplexity. Words outside the vocabulary are counted and reported; documents left
without a word of it are reported and left out (they have no perplexity).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from corpora.errors import CorpusError, NoDocumentsLeft

FORMATS = ("csv", "jsonl", "parquet")


def add_arguments(p) -> None:
    p.add_argument("model_dir", help="a model directory or .pt file written by 'docmodel train' (or the app)")
    p.add_argument("source", help="documents: anything 'docmodel prepare' reads (folder, archive, table, lines file)")
    p.add_argument("-o", "--out", required=True, help="the table to write (.csv, .jsonl or .parquet)")
    p.add_argument("--format", choices=FORMATS, help="format of OUT (default: from its suffix, else csv)")
    p.add_argument(
        "--corpus", metavar="CORPUS_DIR",
        help="the corpus directory the model was trained on: its tokenizer options are used "
        "(default: prepare's defaults)",
    )
    p.add_argument("--top", type=int, default=3, help="top units listed per document (default 3)")
    p.add_argument("--input-format", metavar="F", help="source format (default: detected)")
    p.add_argument("--encoding", default="utf-8", help="text encoding of the source (default utf-8)")
    p.add_argument("--text-column", metavar="C", help="table column holding the text")
    p.add_argument("--label-column", metavar="C", help="table column holding the label")
    p.add_argument("--id-column", metavar="C", help="table column holding the document id")
    p.add_argument("--seed", type=int, default=0, help="seeds the bound's samples (default 0)")


def out_format(path: Path, chosen: str | None) -> str:
    if chosen:
        return chosen
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else "csv"


def tokenizer_options(corpus_dir: str | None):
    """prepare's options for new documents: the corpus' tokenizer settings (or the defaults),
    every document kept in one split."""
    from corpora.corpus import Dataset
    from corpora.prepare import PrepareOptions
    from corpora.tokenize import TokenizerConfig

    given = {}
    if corpus_dir is not None:
        saved = Dataset.load(corpus_dir).info.get("options") or {}
        names = {f.name for f in fields(TokenizerConfig)}
        given = {k: (tuple(v) if isinstance(v, list) else v) for k, v in saved.items() if k in names}
    return PrepareOptions(**given, test_fraction=0.0, min_doc_tokens=1)


def document_table(model, corpus, *, top: int, seed: int):
    """One row per document: id, label, tokens, bound perplexity, top units, representation."""
    import numpy as np
    import pandas as pd

    from docmodel.explain import unit_label
    from docmodel.models import model_kind

    weights = np.asarray(model.transform(corpus.X), dtype=np.float64)
    lengths = corpus.doc_lengths.astype(np.float64)
    bound = model.log_likelihood_bound(corpus.X, random_state=seed)
    words = model.top_words(3)
    order = np.argsort(-weights, axis=1, kind="stable")[:, :top]
    kind = model_kind(model)
    table = pd.DataFrame({"doc_id": list(corpus.doc_ids)})
    if corpus.labels is not None:
        table["label"] = list(corpus.labels)
    table["n_tokens"] = lengths.astype(np.int64)
    table["perplexity_bound"] = np.exp(-bound / lengths)
    table["top_units"] = [" | ".join(unit_label(words[k], int(k)) for k in row) for row in order]
    for k in range(weights.shape[1]):
        table[f"{kind.export_prefix}{k}"] = weights[:, k]
    return table


def write_table(table, path: Path, fmt: str) -> None:
    try:
        if fmt == "csv":
            table.to_csv(path, index=False)
        elif fmt == "jsonl":
            table.to_json(path, orient="records", lines=True, force_ascii=False)
        else:
            table.to_parquet(path, index=False)
    except OSError as exc:
        raise CorpusError(f"cannot write {path}: {exc.strerror or exc}") from None


def run(args) -> int:
    from corpora.prepare import prepare
    from docmodel.checkpoint import load_model

    if args.top < 1:
        raise CorpusError(f"--top must be at least 1, got {args.top}")
    model = load_model(args.model_dir)
    if model.vocabulary_ is None:
        raise CorpusError(
            f"{args.model_dir} holds no vocabulary, so new text cannot be encoded for it; train it with "
            "'docmodel train' on a prepared corpus (or fit it with vocabulary=)"
        )
    out = Path(args.out)
    try:
        dataset = prepare(
            args.source, vocabulary=model.vocabulary_, options=tokenizer_options(args.corpus), fmt=args.input_format,
            encoding=args.encoding, text_column=args.text_column, label_column=args.label_column,
            id_column=args.id_column,
        )
    except NoDocumentsLeft as exc:
        if exc.reason != "filtered":
            raise
        raise CorpusError(
            f"no document of {args.source} has a word of the model's vocabulary ({len(model.vocabulary_):,} words); "
            "check that they are in the model's language and, with --corpus, that it names the corpus the "
            "model was trained on"
        ) from None
    split = dataset.info["splits"]["train"]
    table = document_table(model, dataset.train, top=min(args.top, model.n_units_), seed=args.seed)
    write_table(table, out, out_format(out, args.format))
    left_out = split["n_loaded"] - split["n_docs"]
    print(f"{len(table):,} documents scored with the {model.kind} model ({model.n_units_} units); wrote {out}")
    print(f"{split['n_tokens']:,} tokens in the model's vocabulary, {split['n_tokens_outside_vocabulary']:,} outside it")
    if left_out:
        print(f"{left_out:,} document{'' if left_out == 1 else 's'} left out: no word of the model's vocabulary")
    return 0
