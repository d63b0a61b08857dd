"""``docmodel topics MODEL_DIR [--top 10]``: each unit's top words."""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("model_dir", help="a model directory or .pt file written by 'docmodel train'")
    p.add_argument("--top", type=int, default=10, help="words per unit (default 10)")


def run(args) -> int:
    from docmodel.checkpoint import load_model

    model = load_model(args.model_dir)
    if model.kind == "sbn":
        print("# top words: the words whose logits rise most when the unit turns on (column k of U)")
    else:
        print("# top words: the most probable words of each topic")
    for k, words in enumerate(model.top_words(args.top)):
        print(f"{k:3d}  {' '.join(words)}")
    return 0
