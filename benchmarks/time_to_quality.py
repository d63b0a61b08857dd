"""Test perplexity against training time: SBN (NVIL) and three LDA trainers, 50 units each.

On ``20news_nvdm`` (train on the training split, measure on the 7,505 test documents), in one
process, one after the other:

* **SBN-50, NVIL** (``SBNTopicModel`` defaults, or ``--sbn-learning-rate`` / ``--sbn-batch-size``):
  the test bound after every validation (whole epochs, at least 100 steps apart), from the fit
  callback, which sees the parameters just validated (the averaged ones), with q as training has
  it: the network alone (the fitted q's mean-field updates join it after training);
* **LDA-50, batch VB** and **online VB** (scikit-learn through ``LDATopicModel``): the test
  bound after every iteration / pass, from the fit callback;
* **gensim LdaMulticore** (50 topics, ``--gensim-workers`` workers): one pass per ``update``
  call; after each, its topics become an ``LDATopicModel`` (the topic-word matrix ``lambda``
  and the symmetric alpha, as a checkpoint would hold them) so that it is scored by exactly the
  same per-document bound code as scikit-learn's LDA: ``docmodel.models.lda.inference`` (gamma
  optimised per document with the topics at their normalised mean, the mean-field bound).
  gensim's own ``log_perplexity`` is a per-word bound in base 2 and is not used.

Every figure is the per-document perplexity of the bound (``EVALUATION.md``). The clocks count
training only: the time spent scoring the test set at each checkpoint is left out. For each
model the table gives the time to come within 2% of its own final value (the first checkpoint
at or below 1.02 x final), and the script prints how long the SBN needs to reach LDA-batch's
final perplexity (``sbn_seconds_to_lda_final``) next to the time LDA-batch needs to come within
2% of its own final value (``lda_seconds_to_final``). Target: the first is smaller. The SBN's
checkpoints are its validations, whole epochs at least 100 steps apart (five epochs of the
default minibatch here); ``--sbn-checkpoint-steps 1`` checkpoints every epoch, which times the
same training more finely (validation reads the parameters and changes nothing; its time, on 100
documents, counts as training).

    .venv/bin/python benchmarks/time_to_quality.py --plot time_to_quality.png --json ttq.json
"""

from __future__ import annotations

import argparse
import os
import time

from _common import batch_size_arg, load_benchmark, table, write_json


class TrainingClock:
    """Training time with the checkpoints' evaluation time left out."""

    def __init__(self):
        self.start = self.resumed = time.perf_counter()
        self.training = 0.0

    def pause(self) -> float:
        self.training += time.perf_counter() - self.resumed
        return self.training

    def resume(self) -> None:
        self.resumed = time.perf_counter()


def per_document(log_p, X) -> float:
    import numpy as np

    from docmodel.evaluation import perplexity_from_log_likelihood

    return perplexity_from_log_likelihood(log_p, np.asarray(X.sum(axis=1)).ravel(), "document")


def run_sbn(train, test, seconds: float, seed: int, device: str, learning_rate=None, batch_size="auto") -> list[tuple[float, float]]:
    import torch

    from docmodel.base import is_validation
    from docmodel.models.sbn.estimator import SBNTopicModel
    from docmodel.models.sbn.scoring import bound_per_doc

    class Probe(SBNTopicModel):
        """Keeps a handle on the networks being trained, for the checkpoints."""

        def _build(self, n_words):
            self.live_nets = super()._build(n_words)
            return self.live_nets

    curve, clock = [], TrainingClock()
    model = Probe.preset("perplexity", n_units=50, max_epochs=100000, max_seconds=None, patience=100000, random_state=seed, device=device,
                  batch_size=batch_size, **({} if learning_rate is None else {"learning_rate": learning_rate}))

    def checkpoint(metrics):
        if not is_validation(metrics):  # (progress reports between validations)
            return False
        spent = clock.pause()
        dev = next(model.live_nets.model.parameters()).device
        gen = torch.Generator(device=dev).manual_seed(0)
        log_p = bound_per_doc(model.live_nets, test.X.astype("float32"), 10, gen, dev, 838)
        curve.append((spent, per_document(log_p, test.X)))
        print(f"  sbn epoch {metrics['epoch']:3d}: {spent:7.1f}s  test perplexity (bound) {curve[-1][1]:7.1f}", flush=True)
        clock.resume()
        return spent >= seconds

    clock.resume()
    model.fit(train.X, callback=checkpoint)
    return curve


def run_sklearn_lda(train, test, method: str, iterations: int, seed: int) -> list[tuple[float, float]]:
    from docmodel.models.lda.estimator import LDATopicModel

    curve, clock = [], TrainingClock()
    model = LDATopicModel(n_units=50, learning_method=method, max_iter=iterations, random_state=seed)

    def checkpoint(entry):
        spent = clock.pause()
        curve.append((spent, per_document(model.log_likelihood_bound(test.X), test.X)))
        print(f"  lda {method} iteration {entry['epoch']:3d}: {spent:7.1f}s  test perplexity (bound) {curve[-1][1]:7.1f}", flush=True)
        clock.resume()

    clock.resume()
    model.fit(train.X, callback=checkpoint)
    return curve


def gensim_as_lda_model(lda, n_words: int):
    """An ``LDATopicModel`` holding gensim's fitted topics, built as from a checkpoint."""
    import numpy as np
    import torch

    from docmodel.models.lda.estimator import LDATopicModel

    alpha = np.asarray(lda.alpha, dtype=np.float64)
    if not np.allclose(alpha, alpha[0]):
        raise SystemExit("gensim alpha is not symmetric; docmodel's LDA bound takes a symmetric prior")
    eta = float(np.asarray(lda.eta, dtype=np.float64).ravel()[0])
    components = np.asarray(lda.state.get_lambda(), dtype=np.float64)  # K x V, the Dirichlet q(beta)
    return LDATopicModel.from_checkpoint({
        "config": {"n_units": components.shape[0], "random_state": 0},
        "state": {
            "components": torch.from_numpy(components),
            "doc_topic_prior": float(alpha[0]),
            "topic_word_prior": eta,
        },
        "vocabulary": None,
        "metrics": {},
        "history": [],
    })


def run_gensim(train, test, passes: int, workers: int, seed: int) -> list[tuple[float, float]]:
    import logging

    from gensim.matutils import Sparse2Corpus
    from gensim.models import LdaMulticore

    logging.getLogger("gensim").setLevel(logging.WARNING)
    corpus = list(Sparse2Corpus(train.X, documents_columns=False))
    id2word = {i: w for i, w in enumerate(train.vocabulary.words)}
    curve, clock = [], TrainingClock()
    clock.resume()
    lda = LdaMulticore(corpus, num_topics=50, id2word=id2word, workers=workers, passes=1,
                       eval_every=None, random_state=seed)
    for p in range(1, passes + 1):
        if p > 1:
            lda.update(corpus)
        spent = clock.pause()
        model = gensim_as_lda_model(lda, train.n_words)
        curve.append((spent, per_document(model.log_likelihood_bound(test.X), test.X)))
        print(f"  gensim pass {p:3d}: {spent:7.1f}s  test perplexity (bound) {curve[-1][1]:7.1f}", flush=True)
        clock.resume()
    return curve


def seconds_to_reach(curve, level: float) -> float | None:
    """Training seconds at the first checkpoint at or below ``level`` (None if never)."""
    return next((t for t, v in curve if v <= level), None)


def plot(curves: dict, lda_final: float, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name, curve in curves.items():
        if curve:
            ax.plot([t for t, _ in curve], [v for _, v in curve], marker="o", markersize=3, label=name)
    ax.axhline(lda_final, color="gray", linestyle="--", linewidth=1, label=f"LDA batch final ({lda_final:.0f})")
    ax.set_xlabel("training time (s; test evaluation excluded)")
    ax.set_ylabel("test perplexity, per document (bound)")
    ax.set_title("20 Newsgroups (NVIL benchmark split), 50 units / topics")
    top = max(v for c in curves.values() for _, v in c[1:] or c)
    ax.set_ylim(min(v for c in curves.values() for _, v in c) * 0.95, top * 1.05)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="20news_nvdm")
    p.add_argument("--sbn-seconds", type=float, default=120.0, help="SBN training time")
    p.add_argument("--sbn-learning-rate", type=float, help="SBN learning rate (default: the estimator's, 3e-3)")
    p.add_argument("--sbn-batch-size", type=batch_size_arg, default="auto", help="SBN minibatch (default: automatic)")
    p.add_argument("--sbn-checkpoint-steps", type=int,
                   help="fewest optimiser steps between two SBN checkpoints (default: the estimator's "
                        "spacing of validations, 100 steps, five epochs here); 1: every epoch. Validation "
                        "only reads the parameters, so the training is the same, measured more often")
    p.add_argument("--lda-iterations", type=int, default=30, help="LDA batch iterations")
    p.add_argument("--online-passes", type=int, default=10, help="LDA online passes")
    p.add_argument("--gensim-passes", type=int, default=10)
    p.add_argument("--gensim-workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="BLAS / torch threads for every model")
    p.add_argument("--device", default="cpu", help="SBN device: cpu, cuda or auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", default="time_to_quality.png")
    p.add_argument("--json")
    args = p.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)

    os.environ["DOCMODEL_THREADS"] = str(args.threads)  # fit follows it (docmodel.threads)
    if args.sbn_checkpoint_steps is not None:
        from docmodel.models.sbn import training

        training.MIN_ROUND_STEPS = args.sbn_checkpoint_steps
    train, test = load_benchmark(args.data)
    load = os.getloadavg()
    print(f"{args.data}: {train.n_docs} train / {test.n_docs} test documents; {args.threads} threads; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    curves = {}
    with threadpool_limits(args.threads):
        print("LDA-50, scikit-learn batch VB")
        curves["lda batch (sklearn)"] = run_sklearn_lda(train, test, "batch", args.lda_iterations, args.seed)
        print("SBN-50, NVIL")
        curves["sbn nvil"] = run_sbn(train, test, args.sbn_seconds, args.seed, args.device, args.sbn_learning_rate,
                                     args.sbn_batch_size)
        print("LDA-50, scikit-learn online VB")
        curves["lda online (sklearn)"] = run_sklearn_lda(train, test, "online", args.online_passes, args.seed)
        print(f"LDA-50, gensim LdaMulticore ({args.gensim_workers} worker(s))")
        curves["lda gensim multicore"] = run_gensim(train, test, args.gensim_passes, args.gensim_workers, args.seed)

    rows = []
    for name, curve in curves.items():
        final = curve[-1][1]
        rows.append({
            "model": name,
            "checkpoints": len(curve),
            "train_seconds": curve[-1][0],
            "final": final,
            "best": min(v for _, v in curve),
            "seconds_to_2pct": seconds_to_reach(curve, 1.02 * final),
        })
    lda_final = curves["lda batch (sklearn)"][-1][1]
    lda_to_final = rows[0]["seconds_to_2pct"]
    sbn_to_lda = seconds_to_reach(curves["sbn nvil"], lda_final)
    print()
    print(table(rows, [
        ("model", "model", "s"), ("checkpoints", "checkpoints", "d"), ("train_seconds", "train s", ".1f"),
        ("final", "final", ".1f"), ("best", "best", ".1f"), ("seconds_to_2pct", "s to 2% of final", ".1f"),
    ]))
    met = sbn_to_lda is not None and sbn_to_lda < lda_to_final
    sbn_text = "never (within its budget)" if sbn_to_lda is None else f"{sbn_to_lda:.1f}s"
    print(f"\nSBN reaches LDA-batch's final perplexity {lda_final:.1f} after {sbn_text} of training; "
          f"LDA batch needs {lda_to_final:.1f}s to come within 2% of it (target: SBN faster: "
          f"{'met' if met else 'NOT met'})")
    end = os.getloadavg()
    print(f"load average at the end {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}")
    plot(curves, lda_final, args.plot)
    write_json(args.json, {
        "data": args.data,
        "threads": args.threads,
        "sbn_seconds_to_lda_final": sbn_to_lda,
        "lda_seconds_to_final": lda_to_final,
        "lda_batch_final_perplexity": lda_final,
        "target_met": met,
        "models": rows,
        "curves": {k: [{"seconds": t, "perplexity_bound": v} for t, v in c] for k, c in curves.items()},
        "load_average_start": load,
        "load_average_end": end,
    })


if __name__ == "__main__":
    main()
