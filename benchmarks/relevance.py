"""The evidence behind the top-word rule's lambda: what each lambda shows, for LDA and the SBN.

Trains LDA-50 (scikit-learn, batch) and an SBN-50 (NVIL, the defaults, ``--epochs`` epochs) on the
training split less ``--val-docs`` validation documents, then, for each lambda of the relevance
rule (:mod:`docmodel.topwords`), prints NPMI of the top 10 words (co-occurrence in the training
documents), diversity of the top 25 and, on the validation documents, how often the top 10 words
actually occur in the documents that switch the unit on (*in on-docs*: the mean share of those
documents containing each word) and how much more often than in all documents (*lift*). The
same table for the SBN ranked by its raw weights U[:, k] (the rule before this one) closes it.

    python benchmarks/relevance.py --threads 1
    python benchmarks/relevance.py --corpus bydate --threads 1
"""

from __future__ import annotations

import argparse
import os

from _common import add_split_arguments, load_validation_split, table, write_json

LAMBDAS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_split_arguments(p)
    args = p.parse_args()

    import numpy as np
    import torch

    from docmodel.models.lda.estimator import LDATopicModel
    from docmodel.models.sbn.estimator import SBNTopicModel
    from docmodel.quality import npmi_coherence, topic_diversity

    torch.set_num_threads(args.threads)

    os.environ["DOCMODEL_THREADS"] = str(args.threads)  # fit follows it (docmodel.threads)
    train, _, X, X_val, _ = load_validation_split(args.data, args.corpus, args.val_docs, args.seed)
    present = (X_val > 0).toarray()
    base = present.mean(axis=0)

    def row(label, model, top):
        on = model.transform(X_val) > model.active_threshold
        share, lift = [], []
        for k in range(top.shape[0]):
            if on[:, k].sum() >= 5:
                inside = present[on[:, k]][:, top[k, :10]].mean(axis=0)
                share.append(inside.mean())
                lift.append(np.mean(inside / np.maximum(base[top[k, :10]], 1.0 / len(base))))
        return {
            "rule": label,
            "npmi": float(np.nanmean(npmi_coherence(top[:, :10], X, n_top=10))),
            "diversity": topic_diversity(top[:, :25].tolist(), 25),
            "in_on_docs": float(np.mean(share)) if share else None,
            "lift": float(np.mean(lift)) if lift else None,
        }

    lda = LDATopicModel(args.units, patience=10, random_state=args.seed).fit(X, vocabulary=train.vocabulary, X_val=X_val)
    sbn = SBNTopicModel.preset("perplexity", n_units=args.units, max_epochs=args.epochs, random_state=args.seed).fit(X, vocabulary=train.vocabulary, X_val=X_val)
    rows = []
    for name, model in (("LDA", lda), ("SBN", sbn)):
        for lam in LAMBDAS:
            rows.append(row(f"{name}, lambda {lam:g}", model, model.top_word_ids(25, relevance=lam)))
    raw = np.argsort(-sbn.unit_word(), axis=1, kind="stable")[:, :25]
    rows.append(row("SBN, by U[:, k]", sbn, raw))
    print(table(rows, [("rule", "rule", "s"), ("npmi", "NPMI", ".3f"), ("diversity", "diversity", ".2f"),
                       ("in_on_docs", "in on-docs", ".3f"), ("lift", "lift", ".2f")]))
    write_json(args.json, {"rows": rows, "epochs": args.epochs, "seed": args.seed})


if __name__ == "__main__":
    main()
