"""``docmodel train CORPUS_DIR --model sbn|lda ... -o MODEL_DIR``."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from corpora.errors import CorpusError
from docmodel.cli_commands._common import ProgressBar, add_unit_options, load_dataset, unit_params
from docmodel.models import REGISTRY


def _layers(text: str) -> tuple[int, ...]:
    try:
        layers = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise CorpusError(f"--layers takes comma-separated unit counts such as 200,200; got {text!r}") from None
    if not layers or min(layers) < 1:
        raise CorpusError(f"--layers needs positive unit counts, got {text!r}")
    return layers


def add_arguments(p) -> None:
    p.add_argument("corpus_dir", help="a corpus directory made by 'docmodel prepare'")
    p.add_argument("-o", "--out", required=True, help="model directory to write")
    p.add_argument("--model", choices=list(REGISTRY), default="sbn")
    p.add_argument("--algorithm", choices=["nvil", "wake-sleep", "reinforce"], default="nvil", help="SBN training algorithm")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--units", type=int, default=50, help="latent units (SBN) or topics (LDA); default 50")
    size.add_argument("--layers", help="SBN layers, nearest the words first, e.g. 200,200")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, help="maximum epochs (SBN) or iterations (LDA)")
    budget.add_argument("--max-minutes", type=float, help="training time budget in minutes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--batch-size", type=int,
        help="minibatch (SBN default: a twentieth of the training documents, between 64 and 512; LDA online: 128)",
    )
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam", help="SBN optimiser (default Adam)")
    p.add_argument("--learning-rate", type=float, default=3e-3, help="SBN model learning rate")
    p.add_argument("--encoder-learning-rate", type=float, help="SBN inference network learning rate (default: same)")
    p.add_argument("--baseline-learning-rate", type=float,
                   help="NVIL's input-dependent baseline learning rate (default: the inference network's)")
    p.add_argument("--samples", type=int, default=5, help="samples h ~ q(h|x) per document per SBN training step")
    p.add_argument("--patience", type=int, default=20, help="validations without improvement before stopping (the SBN is validated after whole epochs, at least 100 steps apart)")
    p.add_argument("--val-docs", type=int, default=100, help="training documents held out for early stopping")
    p.add_argument("--encoder-hidden", type=int, default=0, help="hidden units of q(h|x) (0 = linear)")
    p.add_argument("--weight-decay", type=float, default=0.0)
    add_unit_options(p)
    p.add_argument(
        "--encoder-dropout", type=float, default=0.2,
        help="NVIL and REINFORCE: dropout on the inference network's input while training (0: off)",
    )
    p.add_argument(
        "--encoder-dropout-words", action=argparse.BooleanOptionalAction, default=True,
        help="the encoder dropout removes whole words from q's view of a document (default) or zeroes features",
    )
    p.add_argument(
        "--encoder-length-weights", action=argparse.BooleanOptionalAction, default=True,
        help="NVIL: q weighs each document's bound per word (default) or every document's alike (the paper's)",
    )
    p.add_argument(
        "--encoder-dreams", type=float, default=0.0, metavar="F",
        help="NVIL: also train q on F documents dreamed from the model per real one (0: off, the paper's NVIL)",
    )
    p.add_argument(
        "--ema-decay", type=float, default=0.999,
        help="decay of the parameter average used for validation and the saved model (0: off)",
    )
    for comp in ("global-baseline", "input-baseline", "mean-field-baseline", "variance-norm", "local-signals"):
        p.add_argument(f"--no-{comp}", action="store_true", help=f"switch off NVIL's {comp.replace('-', ' ')}")
    p.add_argument("--learning-method", choices=["batch", "online"], default="batch", help="LDA learning method")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument(
        "--distributed", action="store_true",
        help="data-parallel SBN training across the processes started by torchrun "
        "(implied when torchrun starts several); only rank 0 writes the model",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted SBN run from OUT/train_state.pt (same seed and settings)",
    )
    p.add_argument(
        "--checkpoint-every", type=float, default=30.0, metavar="SECONDS",
        help="how often the SBN training state is saved for --resume (default 30 s)",
    )


def _distributed(args) -> bool:
    from docmodel.models.sbn.distributed import launched_by_torchrun

    wanted = args.distributed or launched_by_torchrun()
    if wanted and args.model != "sbn":
        raise CorpusError("--distributed (or several torchrun processes) applies to SBN training only")
    return wanted


def build_model(args):
    seconds = args.max_minutes * 60 if args.max_minutes else None
    distributed = _distributed(args)
    if args.model == "lda":
        from docmodel.models.lda.estimator import LDATopicModel

        kw = {"max_seconds": seconds}
        if args.epochs:
            kw["max_iter"] = args.epochs
        return LDATopicModel(
            n_units=args.units,
            learning_method=args.learning_method,
            **({"batch_size": args.batch_size} if args.batch_size else {}),
            random_state=args.seed,
            **kw,
        )
    from docmodel.models.sbn.estimator import SBNTopicModel

    return SBNTopicModel(
        n_units=args.units,
        layers=_layers(args.layers) if args.layers else None,
        algorithm=args.algorithm,
        global_baseline=not args.no_global_baseline,
        input_baseline=not args.no_input_baseline,
        mean_field_baseline=not args.no_mean_field_baseline,
        variance_norm=not args.no_variance_norm,
        local_signals=not args.no_local_signals,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        encoder_learning_rate=args.encoder_learning_rate,
        baseline_learning_rate=args.baseline_learning_rate,
        batch_size=args.batch_size or "auto",
        n_samples=args.samples,
        max_epochs=args.epochs or (100000 if seconds else 200),
        max_seconds=seconds,
        patience=args.patience,
        n_val_docs=args.val_docs,
        encoder_hidden=args.encoder_hidden,
        weight_decay=args.weight_decay,
        **unit_params(args),
        encoder_dropout=args.encoder_dropout,
        encoder_dropout_words=args.encoder_dropout_words,
        encoder_length_weights=args.encoder_length_weights,
        encoder_dreams=args.encoder_dreams,
        ema_decay=args.ema_decay or None,
        random_state=args.seed,
        device=args.device,
        distributed=distributed,
    )


def run(args) -> int:
    dataset = load_dataset(args.corpus_dir)
    model = build_model(args)
    label = f"{args.model}" + (f"/{args.algorithm}" if args.model == "sbn" else "")
    bar = ProgressBar(f"training {label}")
    kwargs = {}
    created: list[Path] = []  # the folders this run makes, deepest first
    if args.model == "sbn":
        out = Path(args.out)
        created = [p for p in (out, *out.parents) if not p.exists()]
        out.mkdir(parents=True, exist_ok=True)
        kwargs = {
            "state_path": out / "train_state.pt",
            "resume": args.resume,
            "state_every_seconds": args.checkpoint_every,
        }
    elif args.resume:
        raise CorpusError("--resume applies to SBN training; LDA runs are short and start afresh")
    try:
        model.fit(dataset.train.X, vocabulary=dataset.vocabulary, callback=bar, **kwargs)
    except BaseException:
        # A run that failed before writing anything leaves no empty folder behind (another
        # worker of a distributed run may have removed it already, or written to it).
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    finally:
        bar.close()
    if getattr(model, "distributed", False):
        from docmodel.models.sbn.distributed import rank

        if rank() != 0:
            return 0  # every worker holds the same model; rank 0 writes it
    if getattr(model, "stopped_", None) == "diverged":
        print(
            "warning: training diverged (repeated non-finite losses); the best parameters before that "
            "were kept. Try a lower --learning-rate.",
            file=sys.stderr,
        )
    path = model.save(args.out)
    best = getattr(model, "best_val_perplexity_bound_", None)
    print(f"trained {label} with {model.n_units_} units in {model.train_seconds_:.1f}s")
    if best is not None:
        print(f"best validation perplexity (10-sample bound, per document): {best:.1f}")
    print(f"saved {path}")
    return 0
