"""``docmodel prepare``: raw documents or bag-of-words files -> a corpus directory.

Only :mod:`corpora` is imported (never torch), so the command starts quickly. Option values
are checked by :class:`corpora.prepare.PrepareOptions`, so a bad value is reported in one
line that names it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from corpora.errors import CorpusError
from corpora.prepare import PrepareOptions, prepare

_DEFAULTS = PrepareOptions()

# flag -> (PrepareOptions field, converter); numbers arrive as strings so that a bad value is a
# one-line CorpusError rather than argparse's usage message.
_VALUE_OPTIONS = {
    "stopwords": ("stopwords", str),
    "strip_headers": ("strip_headers", str),
    "token_pattern": ("token_pattern", str),
    "min_df": ("min_df", int),
    "max_df": ("max_df", float),
    "max_words": ("max_words", int),
    "min_token_length": ("min_token_length", int),
    "max_token_length": ("max_token_length", int),
    "min_doc_tokens": ("min_doc_tokens", int),
    "test_fraction": ("test_fraction", float),
    "seed": ("seed", int),
}
_SWITCHES = ("stem", "bigrams", "strip_quotes", "strip_urls", "strip_emails", "strip_numbers")


EPILOG = """examples:
  docmodel prepare lee -o corpora/lee
  docmodel prepare posts.csv --text-column body --label-column topic -o corpora/posts
  docmodel prepare train.feat --test test.feat --vocab vocab.new -o corpora/20news

  The NVIL/NVDM 20 Newsgroups benchmark from the raw posts (exactly its bags of words):
  docmodel prepare 20news-bydate.tar.gz --vocab vocab.new --encoding latin-1 \\
      --strip-headers first-blank-line --token-pattern '[a-z]+' --stopwords none \\
      --min-token-length 1 --min-doc-tokens 2 -o corpora/20news
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = _DEFAULTS
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "source",
        metavar="SOURCE",
        help="folder of text files, .zip/.tar(.gz), .csv/.tsv/.jsonl/.parquet, .txt (one document per "
        "line), 'lee', or a .feat/.mtx bag-of-words file (with --vocab)",
    )
    parser.add_argument(
        "-o", "--output", metavar="CORPUS_DIR", required=True, help="corpus directory to write"
    )
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--test", metavar="SOURCE", help="test documents (same kind as SOURCE)")
    split.add_argument(
        "--test-fraction",
        metavar="F",
        help="hold out this fraction at random as the test split (default: the source's own "
        "20news-bydate-train/-test folders when it has them, otherwise 0.2; 0: no test split)",
    )
    parser.add_argument("--seed", metavar="S", help=f"seed of the random split (default {d.seed})")
    parser.add_argument(
        "--vocab",
        metavar="FILE",
        help="fixed vocabulary (one word per line; extra columns ignored): words outside it are dropped; "
        "required for .feat/.mtx unless vocab.new sits beside the file",
    )
    g = parser.add_argument_group("reading")
    g.add_argument("--format", metavar="F", help="source format (default: detected)")
    g.add_argument(
        "--encoding",
        metavar="E",
        default="auto",
        help="text encoding (default auto: UTF-8, else Latin-1)",
    )
    g.add_argument("--text-column", metavar="C", help="table column holding the text")
    g.add_argument("--label-column", metavar="C", help="table column holding the label")
    g.add_argument("--id-column", metavar="C", help="table column holding the document id")
    t = parser.add_argument_group("tokens")
    t.add_argument("--stopwords", metavar="LIST", help=f"english or none (default {d.stopwords})")
    extra = t.add_mutually_exclusive_group()
    extra.add_argument(
        "--extra-stopwords", metavar="W1,W2", help="more stop words, comma-separated"
    )
    extra.add_argument(
        "--extra-stopwords-file", metavar="FILE", help="more stop words, one per line"
    )
    t.add_argument("--stem", action="store_true", help="Snowball (English) stemming")
    t.add_argument(
        "--bigrams",
        action="store_true",
        help="join frequent word pairs learned on the training split (saved with the corpus: "
        "'docmodel transform --corpus' joins the same pairs in new documents)",
    )
    t.add_argument("--min-token-length", metavar="N", help=f"(default {d.min_token_length})")
    t.add_argument("--max-token-length", metavar="N", help="(default: no limit)")
    t.add_argument(
        "--token-pattern",
        metavar="RE",
        help="token regex (default: whole words of letters, without contraction tails such as 's, 've)",
    )
    t.add_argument(
        "--strip-headers",
        metavar="MODE",
        help="off, auto (only when the text starts with 'Name: value' lines) or first-blank-line "
        f"(default {d.strip_headers})",
    )
    t.add_argument(
        "--strip-quotes", action="store_true", help="drop '>' quoted lines and '... writes:' lines"
    )
    t.add_argument("--strip-urls", action="store_true", help="drop URLs")
    t.add_argument("--strip-emails", action="store_true", help="drop e-mail addresses")
    t.add_argument("--strip-numbers", action="store_true", help="drop stand-alone numbers")
    t.add_argument("--no-lowercase", action="store_true", help="keep the case of the text")
    v = parser.add_argument_group(
        "vocabulary and documents (ignored for .feat/.mtx except --min-doc-tokens)"
    )
    v.add_argument(
        "--min-df",
        metavar="N",
        help=f"keep words in at least N training documents (default {d.min_df})",
    )
    v.add_argument(
        "--max-df",
        metavar="F",
        help=f"keep words in at most this fraction of them (default {d.max_df})",
    )
    v.add_argument(
        "--max-words",
        metavar="N",
        help=f"vocabulary size, most frequent first (default {d.max_words})",
    )
    v.add_argument(
        "--min-doc-tokens",
        metavar="N",
        help=f"drop documents with fewer tokens before vocabulary filtering (default {d.min_doc_tokens})",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the summary as JSON")


def options_from_args(args: argparse.Namespace) -> PrepareOptions:
    """The :class:`PrepareOptions` that the command line asks for (defaults elsewhere)."""
    given: dict = {}
    for attr, (name, convert) in _VALUE_OPTIONS.items():
        value = getattr(args, attr)
        if value is None:
            continue
        flag = "--" + attr.replace("_", "-")
        try:
            given[name] = convert(value)
        except ValueError:
            kind = "an integer" if convert is int else "a number"
            raise CorpusError(f"{flag} must be {kind}, got {value!r}") from None
    for name in _SWITCHES:
        if getattr(args, name):
            given[name] = True
    if args.no_lowercase:
        given["lowercase"] = False
    if args.extra_stopwords is not None:
        given["extra_stopwords"] = tuple(w.strip() for w in args.extra_stopwords.split(","))
    elif args.extra_stopwords_file is not None:
        given["extra_stopwords"] = _read_word_list(Path(args.extra_stopwords_file))
    return PrepareOptions(**given)


def _read_word_list(path: Path) -> tuple[str, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CorpusError(f"stop-word file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read stop-word file {path}: {exc}") from None
    return tuple(
        w for w in (line.strip() for line in text.splitlines()) if w and not w.startswith("#")
    )


def run(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    loader_kwargs = {
        "fmt": args.format,
        "encoding": args.encoding,
        "text_column": args.text_column,
        "label_column": args.label_column,
        "id_column": args.id_column,
    }
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise CorpusError(f"output {output} exists and is not a folder")
    dataset = prepare(
        args.source, test=args.test, vocabulary=args.vocab, options=options, **loader_kwargs
    )
    try:
        dataset.save(output)
    except OSError as exc:
        raise CorpusError(
            f"cannot write corpus directory {output}: {exc.strerror or exc}"
        ) from None
    summary = summarize(dataset)
    print(format_summary(summary, output))
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise CorpusError(f"cannot write {args.json}: {exc.strerror or exc}") from None
    return 0


def summarize(dataset) -> dict:
    """The figures printed and written with ``--json`` (all plain JSON values)."""
    info = dataset.info
    summary = dict(dataset.summary())
    summary.update(
        n_dropped_short=int(info.get("n_dropped_short", 0)),
        n_skipped_files=int(info.get("n_skipped_files", 0)),
        split=info.get("split"),
        source=info.get("source"),
        splits=info.get("splits", {}),
    )
    return summary


def format_summary(summary: dict, output: Path) -> str:
    """A short table: documents, tokens and drops per split, skipped files, vocabulary size."""
    splits = summary["splits"]
    names = [n for n in ("train", "test") if n in splits]
    rows = [
        ("documents", [f"{splits[n]['n_docs']:,}" for n in names]),
        ("tokens", [f"{splits[n]['n_tokens']:,}" for n in names]),
        ("mean length", [f"{summary[f'mean_length_{n}']:.1f}" for n in names]),
        ("dropped: too short", [f"{splits[n]['n_dropped_short']:,}" for n in names]),
        ("dropped: empty", [f"{splits[n]['n_dropped_empty']:,}" for n in names]),
    ]
    width = max(12, *(len(c) for _, cells in rows for c in cells))
    lines = [
        f"wrote {output}  (split: {summary['split']})",
        f"{'':<20}" + "".join(f"{n:>{width + 2}}" for n in names),
    ]
    lines += [f"{label:<20}" + "".join(f"{c:>{width + 2}}" for c in cells) for label, cells in rows]
    lines.append(f"{'skipped files':<20}{summary['n_skipped_files']:>{width + 2},}")
    lines.append(f"{'vocabulary':<20}{summary['n_words']:>{width + 2},} words")
    return "\n".join(lines)
