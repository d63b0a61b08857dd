"""``docmodel transform MODEL_DIR SOURCE -o OUT [--corpus CORPUS_DIR] [--format csv|jsonl|parquet]``.

Applies a trained model to new documents: any source ``docmodel prepare`` reads is encoded with
the model's own vocabulary (tokenized as the model's corpus was, its learned phrases included,
when ``--corpus`` names it) and each document gets its unit probabilities or topic proportions,
its top units with their labels, and its bound perplexity. Words outside the vocabulary are
counted and reported; documents left without a word of it are reported and left out (they have
no perplexity). The scoring is
:func:`docmodel.new_documents.score_new_documents`, which the app's "Score new documents" page uses too.
"""

from __future__ import annotations

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
        help="the corpus directory the model was trained on: its tokenizer options, and the phrases it "
        "learned with --bigrams, are used (default: prepare's defaults)",
    )
    p.add_argument("--top", type=int, default=3, help="top units listed per document (default 3)")
    p.add_argument("--input-format", metavar="F", help="source format (default: detected)")
    p.add_argument(
        "--encoding", default="auto",
        help="text encoding of the source (default auto: UTF-8, else Latin-1, as 'docmodel prepare')",
    )
    p.add_argument("--text-column", metavar="C", help="table column holding the text")
    p.add_argument("--label-column", metavar="C", help="table column holding the label")
    p.add_argument("--id-column", metavar="C", help="table column holding the document id")
    p.add_argument("--seed", type=int, default=0, help="seeds the bound's samples (default 0)")


def out_format(path: Path, chosen: str | None) -> str:
    if chosen:
        return chosen
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else "csv"


def corpus_options(corpus_dir: str | None) -> dict | None:
    """The tokenizer settings of the corpus in ``corpus_dir`` (None: prepare's defaults)."""
    from corpora.corpus import Dataset

    return None if corpus_dir is None else Dataset.load(corpus_dir).info.get("options")


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
    from docmodel.checkpoint import load_model
    from docmodel.new_documents import score_new_documents

    model = load_model(args.model_dir)
    out = Path(args.out)
    try:
        scored = score_new_documents(
            model, args.source, options=corpus_options(args.corpus), top=args.top, seed=args.seed,
            name=args.model_dir, fmt=args.input_format, encoding=args.encoding, text_column=args.text_column,
            label_column=args.label_column, id_column=args.id_column,
        )
    except NoDocumentsLeft as exc:
        if exc.reason == "too_short":
            raise CorpusError(f"{exc}; give documents with more text (for a table, check --text-column)") from None
        if exc.reason != "filtered":
            raise
        raise CorpusError(f"{exc} (with --corpus, check that it names the corpus the model was trained on)") from None
    write_table(scored.table, out, out_format(out, args.format))
    print(f"{len(scored.table):,} documents scored with the {model.kind} model ({model.n_units_} units); wrote {out}")
    print(f"{scored.n_tokens:,} tokens in the model's vocabulary, {scored.n_tokens_outside_vocabulary:,} outside it")
    least = scored.options["min_doc_tokens"]
    for n, why in ((scored.n_no_tokens, "no word at all" if least == 1 else f"fewer than {least} words"),
                   (scored.n_no_vocabulary_word, "no word of the model's vocabulary")):
        if n:
            print(f"{n:,} document{'' if n == 1 else 's'} left out: {why}")
    return 0
