"""The NVIL paper's Table 3 on one bench: every document model of docmodel and LDA, 50 latent
dimensions, the same documents and the same estimators, beside the published figures.

Each model is trained with its defaults (chosen on validation documents) for at most
``--max-minutes`` on the training split of ``20news_nvdm`` less 100 validation documents (the
NVIL paper's protocol; the same 100 for every model, which early-stops on them), then scored on
the test split by :func:`docmodel.evaluation.evaluate`: per-document perplexity with the 10-sample
bound, the importance-sampled estimate (``--samples``, default 100) and document completion.
"exact" marks the models whose three figures are their exact likelihood (bound = IS).

    python benchmarks/table3.py --max-minutes 15                 # every row, 15 minutes each
    python benchmarks/table3.py --max-minutes 2 --models lda,mixture,docnade --json t3.json

Published figures (test perplexity per document, 50 latent dimensions): LDA 1091, Replicated
Softmax 953, DocNADE 896, SBN (NVIL) 909, fDARN (NVIL) 917 (Mnih & Gregor 2014, Table 3);
NVDM 836 (Miao, Yu & Blunsom 2016). The paper's models were trained far longer than here.
"""

from __future__ import annotations

import argparse
import time

from _common import load_validation_split, peak_rss_mb, refined_bound, write_json

PUBLISHED = {"lda": 1091, "rsm": 953, "docnade": 896, "sbn_nvil": 909, "fdarn_nvil": 917, "nvdm": 836}
ROWS = ("lda", "mixture", "rsm", "docnade", "sbn_nvil", "sbn_nvil_ar", "fdarn_nvil", "sbn_relaxed", "sbn_nvil_net", "nvdm")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="20news_nvdm", help="bag-of-words benchmark in ../shared/data or a path")
    p.add_argument("--corpus", help="a corpus directory made by 'docmodel prepare' (instead of --data)")
    p.add_argument("--max-minutes", type=float, default=15.0, help="training time of each model (default 15)")
    p.add_argument("--models", help=f"rows to train (default every registered one of {','.join(ROWS)})")
    p.add_argument("--units", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=100, help="importance samples per test document")
    p.add_argument("--val-docs", type=int, default=100, help="training documents held out for early stopping")
    p.add_argument("--device", default="cpu", help="device of the neural models: cpu, cuda or auto")
    p.add_argument("--refine-steps", type=int, default=0,
                   help="also score the SBN rows' bound with q refined per test document for this many steps "
                        "(reported apart: not the paper's protocol; 0: off)")
    p.add_argument("--out", help="also save every trained model under this directory")
    p.add_argument("--json", help='write {"rows": {NAME: {...}}} to this file')
    args = p.parse_args()

    from docmodel.compare import CompareSettings, build_model, device_params, model_label
    from docmodel.evaluation import evaluate
    from docmodel.models import VARIANTS
    from docmodel.models.sbn import PRESETS

    names = [n.strip() for n in args.models.split(",") if n.strip()] if args.models else [
        n for n in ROWS if n in VARIANTS]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        p.error(f"--models takes names among {', '.join(VARIANTS)}; unknown: {', '.join(unknown) or 'none given'}")
    train, test, X, X_val, data_name = load_validation_split(args.data, args.corpus, args.val_docs, args.seed)
    print(f"{data_name}: {X.shape[0]} training + {X_val.shape[0]} validation / {test.n_docs} test documents, "
          f"{X.shape[1]} words; {args.max_minutes:g} minutes of training per model")
    settings = CompareSettings(
        n_units=args.units, seed=args.seed, n_samples=args.samples, models=tuple(names),
        sbn_params={"device": args.device, **PRESETS["perplexity"]},  # the paper's model
        model_params=device_params(names, args.device),
    )
    rows = {}
    for name in names:
        model = build_model(name, settings, args.max_minutes * 60)
        print(f"training {name} ...", flush=True)
        model.fit(X, vocabulary=train.vocabulary, X_val=X_val)
        if args.out:
            model.save(f"{args.out}/{name}")
        t0 = time.perf_counter()
        fig = evaluate(model, test.X, n_samples=args.samples, random_state=args.seed)
        rows[name] = {
            "label": model_label(name, model),
            "perplexity_bound": fig["perplexity_bound"],
            "perplexity_is": fig["perplexity_is"],
            "perplexity_completion": fig["perplexity_completion"],
            "exact": fig["exact"],
            "train_seconds": float(model.train_seconds_),
            "eval_seconds": time.perf_counter() - t0,
            "epochs": int(model.history_[-1]["epoch"]) if model.history_ else 0,
            "stopped": getattr(model, "stopped_", None),
            "best_val_perplexity_bound": getattr(model, "best_val_perplexity_bound_", None),
            "published": PUBLISHED.get(name),
        }
        if args.refine_steps and hasattr(model, "nets_"):  # the SBN family (NVIL, relaxed; fDARN)
            rows[name]["perplexity_bound_refined"] = refined_bound(model, test.X, args.refine_steps, args.seed)[
                "perplexity_bound_refined"]
            rows[name]["refine_steps"] = args.refine_steps
        print(_line(name, rows[name]), flush=True)
    print()
    print(table(rows))
    print(f"peak memory {peak_rss_mb():.0f} MB")
    write_json(args.json, {"data": data_name, "units": args.units, "seed": args.seed, "max_minutes": args.max_minutes,
                           "samples": args.samples, "rows": rows})


def _line(name: str, r: dict) -> str:
    return (f"{name}: bound {r['perplexity_bound']:.1f}, IS {r['perplexity_is']:.1f}, completion "
            f"{r['perplexity_completion']:.1f}{' (exact)' if r['exact'] else ''}, {r['train_seconds']:.0f} s, "
            f"{r['epochs']} epochs ({r['stopped']})"
            + (f"; bound with q refined ({r['refine_steps']} steps) {r['perplexity_bound_refined']:.1f}"
               if "perplexity_bound_refined" in r else ""))


def table(rows: dict) -> str:
    """The rows as a Markdown table (with a column for the refined bound when a row has one)."""
    refined = any("perplexity_bound_refined" in r for r in rows.values())
    lines = ["| model | bound | IS | completion |" + (" bound, q refined |" if refined else "") + " train s | published |",
             "|---|---:|---:|---:|" + ("---:|" if refined else "") + "---:|---:|"]
    for r in rows.values():
        exact = " (exact)" if r["exact"] else ""
        extra = (f" {r['perplexity_bound_refined']:.1f} |" if "perplexity_bound_refined" in r else " - |") if refined else ""
        lines.append(
            f"| {r['label']} | {r['perplexity_bound']:.1f}{exact} | {r['perplexity_is']:.1f}{exact} | "
            f"{r['perplexity_completion']:.1f}{exact} |{extra} {r['train_seconds']:.0f} | {r['published'] or '-'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
