"""SBN-50 trained with NVIL (the paper's model) on the NVIL paper's 20 Newsgroups benchmark.

Trains on the training split with the ``perplexity`` preset (the paper's model: signed
unit-word weights and a learned prior; ``--preset readable`` gives the estimator's defaults) and
the estimator's other defaults (Adam, learning rate 3e-3, the
automatic minibatch (512 here), early stopping on 100 held-out training documents) under a time
budget, then prints the test perplexities of ``EVALUATION.md``: the 10-sample bound per document
(the paper's Table 3 protocol; the paper reports 909 for SBN-50), the 100-sample
importance-sampled estimate and document completion, with training time and throughput.

    python benchmarks/nvil_20news.py                       # 20news_nvdm, 15 minutes at most
    python benchmarks/nvil_20news.py --data 20news_prodlda
    python benchmarks/nvil_20news.py --device cuda         # on a GPU
    python benchmarks/nvil_20news.py --prior autoregressive --inference autoregressive   # fDARN, AR q
    python benchmarks/nvil_20news.py --refine-steps 100 --save m.model   # also the bound with q refined
    python benchmarks/nvil_20news.py --load m.model --refine-steps 100   # a saved model, refined again
    python benchmarks/nvil_20news.py --sample-baseline --choose-on 1000  # a setting scored on validation documents
"""

from __future__ import annotations

import argparse
import os
import time

from _common import (
    batch_size_arg,
    load_benchmark,
    mean_field_steps_arg,
    peak_rss_mb,
    refined_bound,
    validation_split,
    write_json,
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="20news_nvdm", help="folder in ../shared/data or a path")
    p.add_argument("--units", type=int, default=50)
    p.add_argument("--max-minutes", type=float, default=15.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=100, help="importance samples per test document")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--batch-size", type=batch_size_arg, default="auto", help="training minibatch (default: the estimator's automatic one)")
    p.add_argument("--encoder-dropout", type=float, default=0.2)
    p.add_argument("--encoder-dropout-words", action=argparse.BooleanOptionalAction, default=True,
                   help="the dropout removes whole words (default) or zeroes features")
    p.add_argument("--encoder-dreams", type=float, default=0.0, help="dreamed documents per real one for q (0: off)")
    p.add_argument("--encoder-length-weights", action=argparse.BooleanOptionalAction, default=True,
                   help="q weighs each document's bound per word (default) or every document's alike (the paper's)")
    p.add_argument("--learning-rate", type=float, help="model and inference network (default: the estimator's)")
    p.add_argument("--plateau-drop", type=lambda v: None if v == "none" else float(v), default=argparse.SUPPRESS,
                   help="learning-rate factor after 3 validations without a better bound; 'none': constant rates "
                        "(default: the estimator's)")
    p.add_argument("--preset", choices=("perplexity", "readable"), default="perplexity",
                   help="the SBN's named settings (default perplexity: the paper's model, signed unit-word weights "
                        "and a learned prior; readable: the estimator's defaults)")
    p.add_argument("--prior", choices=("factorial", "autoregressive"), default="factorial",
                   help="the units' prior: independent (the paper's SBN) or fDARN's autoregressive one")
    p.add_argument("--inference", choices=("factorial", "autoregressive"), default="factorial",
                   help="q(h|x): factorial (the paper's) or autoregressive within the layer")
    p.add_argument("--mean-field-steps", type=mean_field_steps_arg,
                   help="the fitted q: its network followed by this many mean-field updates (SBNTopicModel's "
                        "mean_field_steps; default: the estimator's); with --load, given to the loaded model's q "
                        "(default: its own)")
    p.add_argument("--mean-field-damping", type=float,
                   help="with --load: the step of each mean-field update (docmodel.models.sbn.mean_field.DAMPING, "
                        "for choosing that constant)")
    p.add_argument("--encoder-hidden", type=int, default=0,
                   help="q(h|x): 0 for linear (the default), else one tanh hidden layer of this size")
    p.add_argument("--patience", type=int, help="validations without a better bound before stopping (default: the estimator's)")
    p.add_argument("--sample-baseline", action="store_true",
                   help="NVIL's baseline: leave-one-out over each document's training samples instead of C(x)")
    p.add_argument("--train-samples", type=int, help="samples of h per training document (default: the estimator's)")
    p.add_argument("--refine-steps", type=int, default=0,
                   help="also print the bound with q refined per test document for this many steps "
                        "(SBNTopicModel.log_likelihood_bound's refine_steps; 0: off)")
    p.add_argument("--refine-learning-rate", type=float, help="Adam's step size in logits for --refine-steps (default: the estimator's)")
    p.add_argument("--load", help="score this saved model instead of training one: the test set (or with --choose-on "
                                  "N, the N documents it held out); with --refine-steps, the refined bound of its "
                                  "validation documents and of the test set")
    p.add_argument("--validation-only", action="store_true", help="with --load: score the validation documents only")
    p.add_argument("--choose-on", type=int, default=0, metavar="N",
                   help="for choosing settings: hold out N training documents (seeded), train on the rest and "
                        "score those N instead of the test split, which is then not scored")
    p.add_argument("--save", help="also save the trained model to this path")
    p.add_argument("--json")
    args = p.parse_args()
    if args.validation_only and not (args.load and args.refine_steps):
        p.error("--validation-only applies to --load with --refine-steps")
    if args.choose_on and args.load and args.refine_steps:
        p.error("--choose-on does not apply to --load with --refine-steps")
    if args.mean_field_damping is not None and not args.load:
        p.error("--mean-field-damping applies to --load")

    import numpy as np
    import torch

    from docmodel.evaluation import evaluate
    from docmodel.models.sbn.estimator import SBNTopicModel

    torch.set_num_threads(args.threads)

    os.environ["DOCMODEL_THREADS"] = str(args.threads)  # fit follows it (docmodel.threads)
    train, test = load_benchmark(args.data)
    print(f"{args.data}: {train.n_docs} train / {test.n_docs} test documents, {train.n_words} words")
    X_fit, X_score, scored = train.X, test.X, "test"
    if args.choose_on:
        X_fit, X_score = validation_split(train.X, args.choose_on, args.seed)
        scored = f"validation ({args.choose_on} held-out training documents)"
    if args.load:
        model = SBNTopicModel.load(args.load)
        if args.mean_field_steps is not None:
            model.set_mean_field_steps(args.mean_field_steps)
        if args.mean_field_damping is not None:
            if not model.config_.mean_field_steps:
                p.error("--mean-field-damping needs mean-field updates in q: give --mean-field-steps")
            from docmodel.models.sbn import mean_field

            mean_field.DAMPING = args.mean_field_damping
        if args.refine_steps:
            from docmodel.counts import check_counts, non_empty
            from docmodel.models.batching import training_split

            # The documents fit() held out for early stopping (the same split from the same seed).
            _, val = training_split(non_empty(check_counts(train.X)), None, model.n_val_docs, model.random_state)
            print("validation documents:", end=" ")
            print_refined(model, val, args.refine_steps, args.seed, args.refine_learning_rate)
            if not args.validation_only:
                print("test documents:", end=" ")
                print_refined(model, test.X, args.refine_steps, args.seed, args.refine_learning_rate)
            return
        t0 = time.perf_counter()
        figures = evaluate(model, X_score, n_samples=args.samples, random_state=args.seed)
        damping = f" (damping {args.mean_field_damping:g})" if args.mean_field_damping is not None else ""
        print(f"{args.load} with {model.config_.mean_field_steps} mean-field updates in q{damping}, {scored} perplexity, per document: "
              f"bound (10 samples) {figures['perplexity_bound']:.1f}, importance sampled ({args.samples}) "
              f"{figures['perplexity_is']:.1f}, completion {figures['perplexity_completion']:.1f} "
              f"({time.perf_counter() - t0:.1f}s)")
        write_json(args.json, {"model": args.load, "scored": scored, "mean_field_steps": model.config_.mean_field_steps,
                               **{k: figures[k] for k in figures if k.startswith("perplexity")}})
        return
    model = SBNTopicModel.preset(args.preset, n_units=args.units, max_epochs=100000, max_seconds=args.max_minutes * 60, random_state=args.seed,
                          batch_size=args.batch_size, device=args.device, encoder_dropout=args.encoder_dropout,
                          encoder_dropout_words=args.encoder_dropout_words, encoder_dreams=args.encoder_dreams,
                          encoder_length_weights=args.encoder_length_weights, prior=args.prior,
                          inference=args.inference, encoder_hidden=args.encoder_hidden,
                          sample_baseline=args.sample_baseline,
                          **({} if args.mean_field_steps is None else {"mean_field_steps": args.mean_field_steps}),
                          **({} if args.patience is None else {"patience": args.patience}),
                          **({} if args.train_samples is None else {"n_samples": args.train_samples}),
                          **({} if args.learning_rate is None else {"learning_rate": args.learning_rate}),
                          **({"plateau_drop": args.plateau_drop} if "plateau_drop" in vars(args) else {}))
    model.fit(X_fit, vocabulary=train.vocabulary)
    if args.save:
        model.save(args.save)
    rate = float(np.median([h["docs_per_second"] for h in model.history_]))
    t0 = time.perf_counter()
    figures = evaluate(model, X_score, n_samples=args.samples, random_state=args.seed)
    eval_seconds = time.perf_counter() - t0
    result = {
        "data": args.data,
        "scored": scored,
        "units": args.units,
        "sample_baseline": args.sample_baseline,
        "seed": args.seed,
        "device": str(model._device()),
        "batch_size": model.train_result_["batch_size"],
        "learning_rate": model.learning_rate,
        "plateau_drop": model.plateau_drop,
        "encoder_dropout": args.encoder_dropout,
        "encoder_dropout_words": args.encoder_dropout_words,
        "encoder_dreams": args.encoder_dreams,
        "encoder_length_weights": args.encoder_length_weights,
        "prior": args.prior,
        "inference": args.inference,
        "encoder_hidden": args.encoder_hidden,
        "mean_field_steps": model.config_.mean_field_steps,
        "patience": model.patience,
        "train_samples": model.n_samples,
        "train_seconds": model.train_seconds_,
        "epochs": model.n_iter_,
        "best_epoch": model.train_result_["best_epoch"],
        "stopped": model.stopped_,
        "docs_per_second": rate,
        "best_val_perplexity_bound": model.best_val_perplexity_bound_,
        "eval_seconds": eval_seconds,
        "peak_rss_mb": peak_rss_mb(),
        **{k: figures[k] for k in figures if k.startswith("perplexity") or k in ("elbo_per_doc", "n_docs", "n_tokens")},
    }
    print(f"training: minibatch {result['batch_size']}, learning rate {result['learning_rate']:g} (plateau drop "
          f"{result['plateau_drop']}), {result['train_seconds']:.0f}s, {result['epochs']} epochs (best {result['best_epoch']}, stopped: "
          f"{result['stopped']}), {rate:,.0f} documents/s")
    print(f"{scored} perplexity, per document: bound (10 samples) {result['perplexity_bound']:.1f}, "
          f"importance sampled ({args.samples}) {result['perplexity_is']:.1f}, "
          f"completion {result['perplexity_completion']:.1f}")
    print(f"per word: bound {result['perplexity_bound_per_word']:.1f}, IS {result['perplexity_is_per_word']:.1f}")
    print(f"evaluation {eval_seconds:.1f}s, peak memory {result['peak_rss_mb']:.0f} MB")
    if args.refine_steps:
        result.update(print_refined(model, X_score, args.refine_steps, args.seed, args.refine_learning_rate))
    write_json(args.json, result)


def print_refined(model, X, steps: int, seed: int, learning_rate: float | None = None) -> dict:
    """The bound with q refined per document (not the paper's protocol: reported apart)."""
    out = refined_bound(model, X, steps, seed, learning_rate)
    print(f"bound (10 samples) {out['perplexity_bound']:.1f}; with q refined per document ({steps} steps): "
          f"{out['perplexity_bound_refined']:.1f} per document, in {out['refine_seconds']:.1f}s")
    return {k: out[k] for k in ("perplexity_bound_refined", "refine_steps", "refine_seconds")}


if __name__ == "__main__":
    main()
