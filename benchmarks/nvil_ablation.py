"""NVIL against wake-sleep and plain REINFORCE, and the paper's variance-reduction ablation.

Every configuration trains the same SBN on the same split with the same budget (minutes, or
epochs, i.e. the same number of parameter updates) and seed;
the table gives test perplexity per document (the 10-sample bound, the 100-sample importance-sampled
estimate and document completion) and the best validation figure.
The paper's claim: NVIL with all components is best, and with none (plain REINFORCE) the model
barely learns. A two-layer SBN (50-50) is trained with and without local learning signals. The
row "q also on dreams" trains q (and the baselines) by NVIL on as many dreamed documents as real
ones as well (``encoder_dreams=1``), the model on real documents only; the last row weighs every
document's bound alike for q, as the paper does, instead of per word.

    python benchmarks/nvil_ablation.py --minutes-each 6 --threads 1
    python benchmarks/nvil_ablation.py --epochs-each 40 --threads 1
    python benchmarks/nvil_ablation.py --minutes-each 10 --only 0,6,10 --seed 1
"""

from __future__ import annotations

import argparse
import os

from _common import batch_size_arg, load_benchmark, mean_field_steps_arg, table, write_json

CONFIGS = [
    ("nvil (all components)", {}),
    ("nvil - variance norm", {"variance_norm": False}),
    ("nvil - input baseline", {"input_baseline": False}),
    ("nvil - mean-field term", {"mean_field_baseline": False}),
    ("nvil - global baseline", {"global_baseline": False}),
    ("reinforce (none)", {"algorithm": "reinforce"}),
    ("wake-sleep", {"algorithm": "wake-sleep"}),
    ("nvil 50-50, local", {"layers": (50, 50)}),
    ("nvil 50-50, no local", {"layers": (50, 50), "local_signals": False}),
    ("nvil, q also on dreams", {"encoder_dreams": 1.0}),
    ("nvil - length weights", {"encoder_length_weights": False}),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="20news_nvdm")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes-each", type=float, default=2.0)
    budget.add_argument("--epochs-each", type=int, help="train each for this many epochs instead (no early stopping)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", help="comma-separated row numbers to run (default all)")
    p.add_argument("--batch-size", type=batch_size_arg, default="auto", help="training minibatch for every row (default: automatic)")
    p.add_argument("--encoder-dropout", type=float, default=0.2, help="NVIL and REINFORCE rows")
    p.add_argument("--encoder-dropout-words", action=argparse.BooleanOptionalAction, default=True,
                   help="the dropout removes whole words (default) or zeroes features")
    p.add_argument("--mean-field-steps", type=mean_field_steps_arg, default=0,
                   help="q's mean-field updates after training (SBNTopicModel's mean_field_steps). Default 0: "
                        "the table compares training estimators, so each row scores the q its training made; "
                        "'auto' adds the estimator's default updates where they apply")
    p.add_argument("--json")
    args = p.parse_args()

    import torch

    from docmodel.evaluation import evaluate
    from docmodel.models.sbn.estimator import SBNTopicModel

    torch.set_num_threads(args.threads)

    os.environ["DOCMODEL_THREADS"] = str(args.threads)  # fit follows it (docmodel.threads)
    train, test = load_benchmark(args.data)
    picked = [CONFIGS[int(i)] for i in args.only.split(",")] if args.only else CONFIGS
    rows = []
    for name, kw in picked:
        if args.epochs_each:
            budget = {"max_epochs": args.epochs_each, "patience": args.epochs_each + 1}
        else:
            budget = {"max_epochs": 100000, "max_seconds": args.minutes_each * 60}
        model = SBNTopicModel.preset("perplexity", n_units=50, random_state=args.seed, batch_size=args.batch_size,
                              encoder_dropout=args.encoder_dropout, encoder_dropout_words=args.encoder_dropout_words,
                              mean_field_steps=args.mean_field_steps, **budget, **kw)
        model.fit(train.X, vocabulary=train.vocabulary)
        figures = evaluate(model, test.X, n_samples=100, random_state=args.seed)
        row = {
            "name": name,
            "test_perplexity_bound": figures["perplexity_bound"],
            "test_perplexity_is": figures["perplexity_is"],
            "test_perplexity_completion": figures["perplexity_completion"],
            "best_val_perplexity_bound": model.best_val_perplexity_bound_,
            "epochs": model.history_[-1]["epoch"] if model.history_ else 0,
            "batch_size": model.train_result_["batch_size"],
            "train_seconds": model.train_seconds_,
        }
        rows.append(row)
        print(f"{name}: test bound {row['test_perplexity_bound']:.1f}, importance sampled "
              f"{row['test_perplexity_is']:.1f}, completion {row['test_perplexity_completion']:.1f}", flush=True)
    print()
    what = f"{args.epochs_each} epochs" if args.epochs_each else f"{args.minutes_each:g} minutes"
    words = " (whole words)" if args.encoder_dropout_words else ""
    batches = sorted({row["batch_size"] for row in rows})
    print(f"{args.data}, {what} each, seed {args.seed}, minibatch {args.batch_size} ({', '.join(map(str, batches))}), encoder dropout "
          f"{args.encoder_dropout:g}{words}; test perplexity per document")
    print(table(rows, [("name", "configuration", ""), ("test_perplexity_bound", "bound", ".1f"),
                       ("test_perplexity_is", "imp. sampled", ".1f"), ("test_perplexity_completion", "completion", ".1f"),
                       ("best_val_perplexity_bound", "best val", ".1f"), ("epochs", "epochs", "d"),
                       ("train_seconds", "seconds", ".0f")]))
    write_json(args.json, {"data": args.data, "minutes_each": args.minutes_each, "epochs_each": args.epochs_each,
                           "batch_size": args.batch_size, "encoder_dropout": args.encoder_dropout,
                           "encoder_dropout_words": args.encoder_dropout_words, "seed": args.seed, "rows": rows})


if __name__ == "__main__":
    main()
