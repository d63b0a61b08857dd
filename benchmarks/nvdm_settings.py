"""NVDM settings chosen on validation documents: each setting trains an NVDM-50 on the training
split of ``20news_nvdm`` less 1,100 held-out documents (100 for early stopping, 1,000 to choose
on), then scores the 1,000 with the 10-sample bound and 100-sample importance sampling. The test
split is never read.

    python benchmarks/nvdm_settings.py --learning-rate 5e-4 --samples 5 --json a.json
    python benchmarks/nvdm_settings.py --learning-rate 2e-3 --samples 1 --encoder-dropout 0.2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import load_validation_split, write_json


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="20news_nvdm", help="bag-of-words benchmark in ../shared/data or a path")
    p.add_argument("--units", type=int, default=50)
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--samples", type=int, default=5, help="samples of z per document and step")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--encoder-dropout", type=float, default=0.0)
    p.add_argument("--encoder-steps", type=int, default=0)
    p.add_argument("--patience", type=int, default=30)
    p.add_argument("--max-minutes", type=float, default=15.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the settings and figures to this file")
    args = p.parse_args()

    from docmodel.models.nvdm.estimator import NVDMTopicModel

    _, _, X, X_choose, data_name = load_validation_split(args.data, None, 1000, args.seed)
    perm = np.random.default_rng(args.seed + 1).permutation(X.shape[0])
    X_stop, X_train = X[np.sort(perm[:100])], X[np.sort(perm[100:])]
    model = NVDMTopicModel(
        args.units, learning_rate=args.learning_rate, n_samples=args.samples, batch_size=args.batch_size,
        encoder_dropout=args.encoder_dropout, encoder_steps=args.encoder_steps, patience=args.patience,
        max_epochs=100_000, max_seconds=args.max_minutes * 60, random_state=args.seed, n_threads=args.threads,
    )
    t0 = time.perf_counter()
    model.fit(X_train, X_val=X_stop)
    seconds = time.perf_counter() - t0
    bound = model.perplexity(X_choose)
    is_ = model.perplexity(X_choose, estimator="is", n_samples=100)
    out = {"data": data_name, "settings": vars(args), "train_seconds": seconds, "epochs": model.history_[-1]["epoch"],
           "best_epoch": model.best_epoch_, "validation_bound": bound, "validation_is": is_}
    print(f"{data_name}: {X_train.shape[0]} training documents; learning rate {args.learning_rate:g}, "
          f"{args.samples} samples, encoder dropout {args.encoder_dropout:g}, encoder steps {args.encoder_steps}: "
          f"{out['epochs']} epochs (best {out['best_epoch']}) in {seconds:.0f} s; on the 1,000 held-out documents "
          f"bound {bound:.1f}, importance sampled {is_:.1f}")
    write_json(args.json, out)


if __name__ == "__main__":
    main()
