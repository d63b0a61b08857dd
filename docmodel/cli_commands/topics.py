"""``docmodel topics MODEL_DIR [--top 10] [--relevance 0.6]``: each unit's top words, exactly as
the app shows them and ``docmodel compare`` scores them (:mod:`docmodel.topwords`)."""

from __future__ import annotations

from docmodel.topwords import DEFAULT_RELEVANCE, RULE_TEXT


def add_arguments(p) -> None:
    p.add_argument("model_dir", help="a model directory or .pt file written by 'docmodel train'")
    p.add_argument("--top", type=int, default=10, help="words per unit (default 10)")
    p.add_argument(
        "--relevance", type=float, default=DEFAULT_RELEVANCE,
        help=f"lambda of the ranking: 1 = most probable words, 0 = most specific (default {DEFAULT_RELEVANCE:g})",
    )


def run(args) -> int:
    from docmodel.checkpoint import load_model
    from docmodel.errors import ModelError
    from docmodel.topwords import check_relevance

    model = load_model(args.model_dir)
    lam = check_relevance(args.relevance)
    if args.top < 1:
        raise ModelError(f"--top must be at least 1, got {args.top}")
    share = getattr(model, "unit_on_share_", None)
    print(f"# {RULE_TEXT.format(lam=lam)}")
    for k, words in enumerate(model.top_words(args.top, relevance=lam)):
        on = "" if share is None else f"  (on in {100 * share[k]:.0f}% of training documents)"
        print(f"{k:3d}  {' '.join(words)}{on}")
    return 0
