"""Readable units: the trade-off between an SBN's perplexity and the coherence of its units.

For each option that makes units sparse or coherent, and its strength, an SBN-50 is trained with
NVIL on the same documents for the same number of epochs (so that a busy machine changes the
time, not the figures) and LDA-50 (scikit-learn, batch) beside them. Choices are made on the
validation documents (``--val-docs`` held out from the training split, never trained on); the
test bound is the result. Columns: validation and test bound perplexity per document, NPMI of the
top 10 words (co-occurrence in the training documents), diversity of the top 25, the units on
per document, the mean share of documents in which a unit is on, and how many units were on in
most documents before the flip that presents each by its rarer state. Top words follow the one
ranking rule of :mod:`docmodel.topwords` (relevance, lambda 0.6); ``--relevance`` adds columns
at other lambdas.

    python benchmarks/coherence.py --threads 1                            # 20news_nvdm
    python benchmarks/coherence.py --corpus bydate --threads 1            # a prepared corpus
    python benchmarks/coherence.py --only plain,background+l1=3 --epochs 200
"""

from __future__ import annotations

import argparse
import os
import time

from _common import (
    add_split_arguments,
    load_validation_split,
    mean_field_steps_arg,
    table,
    write_json,
)

from docmodel.models.sbn import PRESETS  # noqa: E402 (after _common puts the repository on the path)

PAPER = PRESETS["perplexity"]  # signed U, a learned prior
CONFIGS = {
    "plain (the perplexity preset)": PAPER,
    "background+l1=1": {**PAPER, "fixed_background": True, "weight_l1": 1.0},
    "background+l1=3": {**PAPER, "fixed_background": True, "weight_l1": 3.0},
    "background+l1=10": {**PAPER, "fixed_background": True, "weight_l1": 10.0},
    "l1=3": {**PAPER, "weight_l1": 3.0},
    "l1=10": {**PAPER, "weight_l1": 10.0},
    "l1=30": {**PAPER, "weight_l1": 30.0},
    "nonnegative": {**PAPER, "nonnegative": True},
    "nonnegative+l1=10": {**PAPER, "nonnegative": True, "weight_l1": 10.0},
    "prior=-2": {**PAPER, "prior_logit": -2.0},
    "nonnegative+prior=-1": {**PAPER, "nonnegative": True, "prior_logit": -1.0},
    "nonnegative+prior=-2": {**PAPER, "nonnegative": True, "prior_logit": -2.0},
    "nonnegative+prior=-3": {**PAPER, "nonnegative": True, "prior_logit": -3.0},
    "coherence=3": {**PAPER, "coherence_weight": 3.0},
    "nonnegative+prior=-2+coherence=1": {**PAPER, "nonnegative": True, "prior_logit": -2.0, "coherence_weight": 1.0},
    "nonnegative+prior=-2+coherence=3": {**PAPER, "nonnegative": True, "prior_logit": -2.0, "coherence_weight": 3.0},
    "nonnegative+prior=-2+coherence=3+overlap=600": {**PAPER, "nonnegative": True, "prior_logit": -2.0,
                                                     "coherence_weight": 3.0, "overlap_weight": 600.0},
    "nonnegative+prior=-2.5+coherence=5": {**PAPER, "nonnegative": True, "prior_logit": -2.5, "coherence_weight": 5.0},
    "nonnegative+prior=-2.5+coherence=5+overlap=1000 (the defaults)": {},
    "lda": None,
}
"""Rows: every option is set explicitly (on the perplexity preset), except the defaults' row."""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_split_arguments(p)
    p.add_argument("--only", help="comma-separated row names (default: all): " + ", ".join(CONFIGS))
    p.add_argument("--mean-field-steps", type=mean_field_steps_arg, default="auto",
                   help="the SBNs' q: mean-field updates after training (SBNTopicModel's mean_field_steps; "
                        "default auto, the estimator's: 5 where they apply; 0: the network alone)")
    p.add_argument("--relevance", default="0.6,1.0", help="lambdas of the ranking rule to report (first is the main one)")
    args = p.parse_args()

    import numpy as np
    import torch

    from docmodel.models.lda.estimator import LDATopicModel
    from docmodel.models.sbn.estimator import SBNTopicModel
    from docmodel.quality import npmi_coherence, topic_diversity

    torch.set_num_threads(args.threads)

    os.environ["DOCMODEL_THREADS"] = str(args.threads)  # fit follows it (docmodel.threads)
    train, test, X, X_val, name = load_validation_split(args.data, args.corpus, args.val_docs, args.seed)
    X_test = test.X[np.asarray(test.X.sum(axis=1)).ravel() > 0]
    lambdas = [float(v) for v in args.relevance.split(",")]
    rows_wanted = list(CONFIGS) if not args.only else [r.strip() for r in args.only.split(",")]
    unknown = [r for r in rows_wanted if r not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown row {unknown[0]!r}; choose from {', '.join(CONFIGS)}")
    print(f"{name}: {X.shape[0]} training / {X_val.shape[0]} validation / {X_test.shape[0]} test documents, "
          f"{X.shape[1]} words; {args.units} units, {args.epochs} SBN epochs, seed {args.seed}")

    def per_doc(model, Xs):
        lengths = np.asarray(Xs.sum(axis=1)).ravel()
        return float(np.exp(-np.mean(model.log_likelihood_bound(Xs, random_state=args.seed) / lengths)))

    rows = []
    for row in rows_wanted:
        params = CONFIGS[row]
        t0 = time.perf_counter()
        if params is None:
            model = LDATopicModel(args.units, learning_method="batch", patience=10, random_state=args.seed)
            model.fit(X, vocabulary=train.vocabulary, X_val=X_val)
            flipped = None
        else:
            model = SBNTopicModel(args.units, max_epochs=args.epochs, patience=10**6, random_state=args.seed,
                                  mean_field_steps=args.mean_field_steps, **params)
            model.fit(X, vocabulary=train.vocabulary, X_val=X_val)
        seconds = time.perf_counter() - t0
        on = model.transform(X) > model.active_threshold
        if params is not None:
            flipped = model.units_flipped_  # units on in most documents before the flip to the rarer state
        result = {
            "row": row, "params": params, "seconds": seconds,
            "val_bound": per_doc(model, X_val), "test_bound": per_doc(model, X_test),
            "units_on_per_doc": float(on.sum(axis=1).mean()), "mean_on_share": float(on.mean()),
            "epochs": model.history_[-1]["epoch"] if model.history_ else None,
            "units_on_in_most_docs": flipped,
        }
        for lam in lambdas:
            top = model.top_word_ids(25, relevance=lam)
            result[f"npmi@{lam:g}"] = float(np.nanmean(npmi_coherence(top[:, :10], X, n_top=10)))
            result[f"diversity@{lam:g}"] = topic_diversity(top.tolist(), 25)
        result["top_words"] = model.top_words(10, relevance=lambdas[0])
        rows.append(result)
        print(f"  {row}: val {result['val_bound']:.1f}, test {result['test_bound']:.1f}, "
              f"NPMI {result[f'npmi@{lambdas[0]:g}']:.3f}, diversity {result[f'diversity@{lambdas[0]:g}']:.2f}, "
              f"{result['units_on_per_doc']:.1f} units on per document, {seconds:.0f} s", flush=True)
    columns = [("row", "row", "s"), ("val_bound", "val bound", ".1f"), ("test_bound", "test bound", ".1f")]
    for lam in lambdas:
        columns += [(f"npmi@{lam:g}", f"NPMI l={lam:g}", ".3f"), (f"diversity@{lam:g}", f"div l={lam:g}", ".2f")]
    columns += [("units_on_per_doc", "on/doc", ".1f"), ("mean_on_share", "on share", ".2f"),
                ("units_on_in_most_docs", "on in most", "d"), ("epochs", "epochs", "d")]
    print()
    print(table(rows, columns))
    write_json(args.json, {"data": name, "units": args.units, "epochs": args.epochs, "seed": args.seed, "rows": rows})


if __name__ == "__main__":
    main()
