"""``docmodel train CORPUS_DIR --model KIND ... -o MODEL_DIR`` (any kind of the registry)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from corpora.errors import CorpusError
from docmodel.cli_commands._common import (
    UNIT_OPTIONS,
    ProgressBar,
    add_unit_options,
    estimator_option,
    given,
    load_dataset,
    mean_field_steps_arg,
    unit_params,
)
from docmodel.models import REGISTRY
from docmodel.threads import ENV as THREADS_ENV

THREADS_HELP = (
    f"CPU threads of SBN training (default: ${THREADS_ENV}, else decided from the step's size and the "
    "CPUs this process may use, one kept free for other work; the choice is logged with -v)"
)


NVIL_SWITCHES = ("global-baseline", "input-baseline", "mean-field-baseline", "variance-norm", "local-signals")


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
    p.add_argument("--model", choices=list(REGISTRY), default="sbn",
                   help="model kind (default sbn); options marked SBN or LDA apply to that kind only")
    estimator_option(p, "--algorithm", choices=["nvil", "wake-sleep", "reinforce", "relaxed"], param="algorithm",
                     help="SBN training algorithm (relaxed: the concrete / Gumbel-sigmoid relaxation, reparameterised)")
    estimator_option(p, "--prior", choices=["factorial", "autoregressive"], param="prior",
                     help="SBN top layer's prior: independent units, or fDARN's autoregressive prior")
    estimator_option(p, "--inference", choices=["factorial", "autoregressive"], param="inference",
                     help="SBN inference network q(h|x): factorial or autoregressive within each layer")
    estimator_option(p, "--mean-field-steps", type=mean_field_steps_arg, metavar="T", param="mean_field_steps",
                     help="SBN: q(h|x) = the inference network's map followed by T mean-field updates that read "
                          "the word layer (one layer, factorial prior and q; 0: none; auto: 5 where they apply)")
    estimator_option(p, "--relaxed-temperature", type=float, metavar="T", param="relaxed_temperature",
                     help="SBN --algorithm relaxed: temperature of the concrete relaxation")
    size = p.add_mutually_exclusive_group()
    estimator_option(size, "--units", type=int, param="n_units", help="latent units (SBN), topics (LDA), components (mixture) or hidden units")
    size.add_argument("--layers", help="SBN layers, nearest the words first, e.g. 200,200")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, help="maximum epochs (LDA: iterations)")
    budget.add_argument("--max-minutes", type=float, help="training time budget in minutes")
    estimator_option(p, "--seed", type=int, param="random_state", help="seeds the validation split, the initial weights and every sample")
    p.add_argument(
        "--batch-size", type=int,
        help="minibatch (SBN default: a twentieth of the training documents, between 64 and 512; LDA online: 128)",
    )
    estimator_option(p, "--optimizer", choices=["adam", "sgd"], param="optimizer", help="SBN optimiser")
    estimator_option(p, "--learning-rate", type=float, param="learning_rate", help="SBN model learning rate")
    p.add_argument("--encoder-learning-rate", type=float, help="SBN inference network learning rate (default: same)")
    p.add_argument("--baseline-learning-rate", type=float,
                   help="NVIL's input-dependent baseline learning rate (default: the inference network's)")
    estimator_option(p, "--plateau-drop", type=plateau_drop, param="plateau_drop",
                     help="SBN: multiply the learning rates by this factor in (0, 1) after 3 validations "
                          "without a better bound; 'none' keeps them constant")
    estimator_option(p, "--samples", type=int, param="n_samples", help="samples h ~ q(h|x) per document per SBN training step")
    estimator_option(p, "--patience", type=int, param="patience", help="validations without improvement before stopping (the SBN is validated after whole epochs, at least 100 steps apart)")
    estimator_option(p, "--val-docs", type=int, param="n_val_docs", help="training documents held out for early stopping")
    estimator_option(p, "--encoder-hidden", type=int, param="encoder_hidden", help="hidden units of q(h|x) (0 = linear)")
    estimator_option(p, "--weight-decay", type=float, param="weight_decay", help="L2 penalty on the SBN's weights")
    add_unit_options(p)
    estimator_option(
        p, "--encoder-dropout", type=float, param="encoder_dropout",
        help="SBN (NVIL, REINFORCE, relaxed) and NVDM: dropout on the inference network's input while training (0: off)",
    )
    estimator_option(
        p, "--encoder-dropout-words", action=argparse.BooleanOptionalAction, param="encoder_dropout_words",
        help="the encoder dropout removes whole words from q's view of a document (on) or zeroes features (off)",
    )
    estimator_option(
        p, "--encoder-length-weights", action=argparse.BooleanOptionalAction, param="encoder_length_weights",
        help="NVIL: q weighs each document's bound per word (on) or every document's alike (off, the paper's)",
    )
    estimator_option(
        p, "--encoder-dreams", type=float, metavar="F", param="encoder_dreams",
        help="NVIL: also train q on F documents dreamed from the model per real one (0: off, the paper's NVIL)",
    )
    estimator_option(
        p, "--sample-baseline", action=argparse.BooleanOptionalAction, param="sample_baseline",
        help="NVIL: centre each sample's learning signal by the mean of the same document's other samples "
             "(leave-one-out; needs --samples 2 or more) instead of the input-dependent baseline",
    )
    estimator_option(
        p, "--ema-decay", type=float, param="ema_decay",
        help="decay of the parameter average used for validation and the saved model (0: off)",
    )
    for comp in NVIL_SWITCHES:
        p.add_argument(f"--no-{comp}", action="store_true", help=f"switch off NVIL's {comp.replace('-', ' ')}")
    estimator_option(p, "--learning-method", choices=["batch", "online"], kind="lda", param="learning_method",
                     help="LDA learning method")
    estimator_option(p, "--device", param="device", help="cpu, cuda or auto")
    p.add_argument("--threads", type=int, metavar="N", help=THREADS_HELP)
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


def plateau_drop(text: str) -> float | str:
    """``--plateau-drop``'s value: a factor, or "none" (constant rates; None means "not given")."""
    return "none" if text.strip().lower() == "none" else float(text)


# Options that set an estimator parameter of the same meaning: dest -> parameter.
SBN_OPTIONS = {
    "units": "n_units", "algorithm": "algorithm", "prior": "prior", "inference": "inference",
    "mean_field_steps": "mean_field_steps",
    "relaxed_temperature": "relaxed_temperature", "optimizer": "optimizer", "learning_rate": "learning_rate",
    "encoder_learning_rate": "encoder_learning_rate", "baseline_learning_rate": "baseline_learning_rate",
    "plateau_drop": "plateau_drop", "batch_size": "batch_size", "samples": "n_samples", "epochs": "max_epochs",
    "patience": "patience", "val_docs": "n_val_docs", "encoder_hidden": "encoder_hidden", "weight_decay": "weight_decay",
    "encoder_dropout": "encoder_dropout", "encoder_dropout_words": "encoder_dropout_words",
    "encoder_length_weights": "encoder_length_weights", "encoder_dreams": "encoder_dreams",
    "sample_baseline": "sample_baseline", "ema_decay": "ema_decay", "seed": "random_state", "device": "device",
    "threads": "n_threads",
}
LDA_OPTIONS = {
    "units": "n_units", "learning_method": "learning_method", "batch_size": "batch_size", "epochs": "max_iter",
    "seed": "random_state",
}


# Options any kind may take, where its estimator has the parameter: dest -> parameter.
COMMON_OPTIONS = {
    "units": "n_units", "learning_rate": "learning_rate", "batch_size": "batch_size", "patience": "patience",
    "val_docs": "n_val_docs", "seed": "random_state", "device": "device", "threads": "n_threads",
    "encoder_dropout": "encoder_dropout",
}


def _other_kind(args, seconds):
    """A kind other than the SBN and LDA (the registry's DocNADE, RSM, NVDM, mixture, ...): the
    common options it takes; any other option given is refused by name."""
    kind = REGISTRY[args.model]
    accepted = kind.defaults()
    names = dict(COMMON_OPTIONS)
    if kind.budget_epochs_param:
        names["epochs"] = kind.budget_epochs_param
    sbn_only = {dest: param for dest, param in SBN_OPTIONS.items() if dest not in names}
    refused = [dest for dest, param in {**names, **sbn_only}.items()
               if getattr(args, dest) is not None and param not in accepted]
    refused += [dest for dest in ("layers", "preset", *UNIT_OPTIONS) if getattr(args, dest, None) not in (None, False)]
    refused += [f"no_{c}" for c in NVIL_SWITCHES if getattr(args, "no_" + c.replace("-", "_"))]
    if refused:
        flags = ", ".join("--" + dest.replace("_", "-") for dest in refused)
        raise CorpusError(f"{flags} {'does' if len(refused) == 1 else 'do'} not apply to --model {args.model}; "
                          f"see 'docmodel train --help'")
    params = given(args, names)
    if seconds and args.epochs is None and kind.budget_epochs_param:
        params[kind.budget_epochs_param] = 100_000  # the budget, not an epoch count, ends the run
    return kind.estimator()(max_seconds=seconds, **params)


def build_model(args):
    seconds = args.max_minutes * 60 if args.max_minutes else None
    distributed = _distributed(args)
    if args.model not in ("sbn", "lda"):
        return _other_kind(args, seconds)
    if args.model == "lda":
        if args.threads is not None:
            raise CorpusError("--threads applies to SBN training (LDA's work is scikit-learn's)")
        return REGISTRY["lda"].estimator()(max_seconds=seconds, **given(args, LDA_OPTIONS))
    params = {**given(args, SBN_OPTIONS), **unit_params(args)}
    if params.get("plateau_drop") == "none":
        params["plateau_drop"] = None
    if seconds and args.epochs is None:
        params["max_epochs"] = 100_000  # the budget, not an epoch count, ends the run
    if params.get("ema_decay") == 0:
        params["ema_decay"] = None  # --ema-decay 0: no parameter average
    return REGISTRY["sbn"].estimator()(
        layers=_layers(args.layers) if args.layers else None,
        global_baseline=not args.no_global_baseline,
        input_baseline=not args.no_input_baseline,
        mean_field_baseline=not args.no_mean_field_baseline,
        variance_norm=not args.no_variance_norm,
        local_signals=not args.no_local_signals,
        max_seconds=seconds,
        distributed=distributed,
        **params,
    )


def run(args) -> int:
    dataset = load_dataset(args.corpus_dir)
    model = build_model(args)
    label = f"{args.model}" + (f"/{model.algorithm}" if args.model == "sbn" else "")
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
        raise CorpusError(f"--resume applies to SBN training; a {args.model} run starts afresh")
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
