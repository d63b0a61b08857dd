"""``docmodel evaluate MODEL_DIR CORPUS_DIR [--split test] [--samples 100] [--json FILE]``."""

from __future__ import annotations

from docmodel.cli_commands._common import (
    check_same_vocabulary,
    load_dataset,
    mean_field_steps_arg,
    pick_split,
    write_json,
)


def add_arguments(p) -> None:
    p.add_argument("model_dir", help="a model directory or .pt file written by 'docmodel train'")
    p.add_argument("corpus_dir", help="a corpus directory made by 'docmodel prepare' with the model's vocabulary")
    p.add_argument("--split", default="test", help="train or test (default test)")
    p.add_argument("--samples", type=int, default=100, help="importance samples per document (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--refine-steps", type=int, default=0,
                   help="SBN models: also the bound with q refined per document for this many steps "
                        "(not the NVIL paper's protocol; 100 is a good choice; default 0: off)")
    p.add_argument("--mean-field-steps", type=mean_field_steps_arg, metavar="T",
                   help="SBN models: score with q given T mean-field updates (SBNTopicModel.set_mean_field_steps; "
                        "0: none; auto: 5 where they apply; default: the model's own)")
    p.add_argument("--json", help="write the figures to this JSON file")


def run(args) -> int:
    from docmodel.checkpoint import load_model
    from docmodel.errors import ModelError
    from docmodel.evaluation import evaluate

    model = load_model(args.model_dir)
    corpus = pick_split(load_dataset(args.corpus_dir), args.split)
    check_same_vocabulary(model, corpus)
    if args.refine_steps < 0:
        raise ModelError(f"--refine-steps must be 0 or more, got {args.refine_steps}")
    if args.mean_field_steps is not None:
        if not hasattr(model, "set_mean_field_steps"):
            raise ModelError(f"--mean-field-steps applies to SBN models; this model's kind is {model.kind!r}")
        model.set_mean_field_steps(args.mean_field_steps)
    result = evaluate(model, corpus.X, n_samples=args.samples, random_state=args.seed, refine_steps=args.refine_steps)
    result["split"] = args.split
    result["model_kind"] = model.kind
    if hasattr(model, "set_mean_field_steps"):
        result["mean_field_steps"] = model.config_.mean_field_steps
    print(f"{model.kind} model on {result['n_docs']} {args.split} documents ({result['n_tokens']} tokens)")
    print(f"{'estimator':<34}{'per document':>14}{'per word':>12}")
    rows = [
        ("bound (10 samples)", "perplexity_bound"),
        (f"importance sampled ({args.samples} samples)", "perplexity_is"),
        ("document completion", "perplexity_completion"),
    ]
    if args.refine_steps:
        rows.append((f"bound, q refined ({args.refine_steps} steps)", "perplexity_bound_refined"))
    for name, key in rows:
        print(f"{name:<34}{result[key]:>14.1f}{result[key + '_per_word']:>12.1f}")
    print(f"mean bound on log p(x) per document: {result['elbo_per_doc']:.2f} nats")
    write_json(args.json, result)
    return 0
