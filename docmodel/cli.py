"""The ``docmodel`` command line: prepare, train, evaluate, topics, transform, compare, sweep, app.

Each verb lives in :mod:`docmodel.cli_commands` and imports its heavy dependencies lazily, so
``docmodel prepare`` starts without loading torch. User errors print one line and exit 2.
Before anything loads torch, :func:`docmodel.threads.prepare_process` makes OpenMP's waiting
workers sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``, unless the environment sets a
policy); processes started from here (the app's server, ``torchrun``'s workers) inherit it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from corpora.errors import CorpusError
from docmodel.threads import prepare_process

VERBS = {
    "prepare": "build a corpus directory from raw documents or bag-of-words files",
    "train": "train a model on a prepared corpus",
    "evaluate": "measure a trained model's perplexities on a corpus split",
    "topics": "print each latent unit's top words",
    "transform": "score new documents with a trained model: units, top units, perplexity",
    "compare": "train models (by default SBN with NVIL and wake-sleep, and LDA) on one split and write a report",
    "sweep": "train models at several numbers of units on one split and choose the size on validation documents",
    "app": "start the web app",
    "workspaces": "list, remove or prune the web app's workspaces",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="docmodel",
        description="Topic models for documents: SBNs trained with NVIL, compared with LDA.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, help_text in VERBS.items():
        module = _command_module(verb)
        if module is None:
            continue
        p = sub.add_parser(verb, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def _command_module(verb: str):
    try:
        return importlib.import_module(f"docmodel.cli_commands.{verb}")
    except ModuleNotFoundError as exc:
        if exc.name == f"docmodel.cli_commands.{verb}":
            return None
        raise


def main(argv: list[str] | None = None) -> int:
    prepare_process()  # libgomp reads it once, when torch loads it
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._run(args) or 0)
    except CorpusError as exc:
        print(f"docmodel {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"docmodel {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
