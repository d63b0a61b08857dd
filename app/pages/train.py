"""Train page: the SBN's and LDA's settings, one box for the other models of the registry, a
sweep over the number of units (:mod:`app.sweep_view`), training in the background with live
progress, cancel."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, settings, state, sweep_view, ui
from app.jobs import SCHEDULER
from app.runner import QUEUED, RUNNING
from app.sweep_job import SweepJob
from docmodel.compare import CompareSettings
from docmodel.models import REGISTRY
from docmodel.models.sbn import MEAN_FIELD_STEPS, PRESETS, preset_text, resolve_mean_field_steps

STOPPED = {
    "max_epochs": "epoch limit",
    "max_iter": "iteration limit",
    "early_stopping": "early stopping",
    "time_budget": "time budget",
    "max_seconds": "time budget",
    "cancelled": "cancelled",
    "callback": "cancelled",
    "diverged": "diverged",
}


def start(name: str, estimator, run_settings: dict, max_epochs: int, max_seconds: float) -> None:
    """Queue ``estimator``'s training on the corpus: a job of the server that writes the model
    into the workspace itself, so that closing or reloading the page loses nothing."""
    ds = state.dataset()
    n_train = ds.train.n_docs
    train_rows, val_rows = state.training_rows(n_train), state.validation_rows(n_train)
    if len(val_rows) == 0 or len(train_rows) == 0:
        st.error(f"The training split has {n_train} documents; at least 2 are needed (one to validate on).")
        return
    state.start_training(
        name, estimator, ds.train.X[train_rows], ds.train.X[val_rows], ds.vocabulary,
        dict(run_settings, n_train_docs=len(train_rows), n_val_docs=len(val_rows)),
        max_epochs, max_seconds or None,
    )
    st.rerun()


def busy() -> bool:
    run = st.session_state.get(state.TRAINING)
    if run is not None and not run.finished:
        doing = "is waiting for its turn to train" if run.snapshot().status == QUEUED else "is still training"
        st.warning(f"**{ui.md(run.name)}** {doing}: wait for it or cancel it first.")
        return True
    return False


def sbn_settings() -> None:
    """The SBN's settings and its Train button (see :func:`lda_settings` for why not a form)."""
    default = REGISTRY["sbn"].defaults()
    with st.container(border=True, key="sbn_settings"):
        st.markdown("#### Sigmoid belief network")
        st.caption("Binary latent units, inference network, trained with NVIL (Mnih & Gregor 2014), wake-sleep "
                   "or a concrete relaxation.")
        name = st.text_input("Name", key="sbn_name", persist_state=ui.KEEP, placeholder="default: sbn-nvil-50")
        c1, c2 = st.columns(2)
        layers_text = c1.text_input("Units per layer", str(default["n_units"]),
                                    key="sbn_layers", persist_state=ui.KEEP,
                                    help="One number for one layer; '100, 50' for two layers (nearest the words first).")
        algorithm = c2.selectbox("Algorithm", list(settings.SBN_ALGORITHMS),
                                 key="sbn_algorithm", persist_state=ui.KEEP)
        max_epochs = c1.number_input("Max. epochs", 1, 10_000, default["max_epochs"],
                                     key="sbn_epochs", persist_state=ui.KEEP)
        max_seconds = c2.number_input("Time budget (s, 0 = none)", 0, 86_400, 60,
                                      key="sbn_seconds", persist_state=ui.KEEP)
        lr = c1.number_input("Learning rate", 1e-6, 1.0, default["learning_rate"], format="%g", step=1e-4,
                             key="sbn_lr", persist_state=ui.KEEP,
                             help="Adam; the paper used SGD with 3e-5. On a few thousand documents 3e-3 was the "
                             "better rate on validation documents at budgets of 1 to 3 minutes; on a large corpus "
                             "(10,000 documents or more), which a short budget sees only a few times, 8.5e-3 "
                             "learns much faster at first (it ends slightly worse after 15 minutes).")
        enc_lr = c2.number_input("Inference network rate (0 = same)", 0.0, 1.0, 0.0, format="%g", step=1e-4,
                                 key="sbn_enc_lr", persist_state=ui.KEEP)
        batch = c1.number_input("Batch size (0 = automatic)", 0, 4096, 0, key="sbn_batch", persist_state=ui.KEEP,
                                help="Automatic: a twentieth of the training documents, between 64 and 512.")
        patience = c2.number_input("Early-stopping patience (epochs)", 1, 10_000, default["patience"],
                                   key="sbn_patience", persist_state=ui.KEEP)
        seed = c1.number_input("Seed", 0, 2**31 - 1, default["random_state"], key="sbn_seed", persist_state=ui.KEEP)
        with st.expander("Prior and inference network (fDARN, q's options)"):
            st.caption("The NVIL paper's variants: an autoregressive prior over the units (fDARN, one layer) and "
                       "an inference network that samples the units one after another. Mean-field updates "
                       "tighten a trained q without training again.")
            f1, f2 = st.columns(2)
            prior_label = f1.selectbox("Prior", list(settings.SBN_PRIORS), key="sbn_prior_kind", persist_state=ui.KEEP)
            inference_label = f2.selectbox("Inference network", list(settings.SBN_INFERENCE), key="sbn_inference",
                                           persist_state=ui.KEEP)
            mean_field_label = f1.selectbox(
                "Mean-field updates in q", list(settings.SBN_MEAN_FIELD), key="sbn_mean_field", persist_state=ui.KEEP,
                help="The trained inference network followed by this many updates that read the word layer: a "
                f"tighter bound at no training cost. Automatic: {MEAN_FIELD_STEPS} for one layer with a factorial "
                "prior and q (the only models they apply to), none otherwise (README, \"Mean-field updates in q\").")
            mean_field_steps = settings.SBN_MEAN_FIELD[mean_field_label]
        with st.expander("Readable units"):
            st.caption("By default units only add words and a sparse prior keeps each on in few documents, so "
                       "each unit reads as a theme; the best-perplexity preset is the NVIL paper's model, whose "
                       "units form a distributed code (README, \"Readable units\", has the measured trade-off).")
            perplexity_preset = st.checkbox(
                "Best-perplexity preset", key="sbn_perplexity", persist_state=ui.KEEP,
                help="The paper's model ("
                + preset_text("perplexity", " = ")
                + "): the lowest perplexity, units that are not topics; overrides the options below.",
            )
            r1, r2 = st.columns(2)
            background = r1.checkbox("Fixed background", default["fixed_background"], key="sbn_background",
                                     persist_state=ui.KEEP,
                                     help="Keep the word bias at the corpus' log word frequencies: units model "
                                     "deviations from them (SAGE).")
            weight_l1 = r2.number_input("L1 on unit-word weights", 0.0, 1000.0, float(default["weight_l1"]), step=1.0,
                                        key="sbn_l1", persist_state=ui.KEEP,
                                        help="Laplace prior on U: about the number of documents of evidence a word "
                                        "needs before a unit takes it. 0: off.")
            coherence = r1.number_input("Coherence weight", 0.0, 100.0, float(default["coherence_weight"]), step=0.5,
                                        key="sbn_coherence", persist_state=ui.KEEP,
                                        help="A prior that steers each unit's largest weights to words the training "
                                        "documents use together (their NPMI). 0: off.")
            overlap = r2.number_input("Overlap weight", 0.0, 10_000.0, float(default["overlap_weight"]), step=10.0,
                                      key="sbn_overlap", persist_state=ui.KEEP,
                                      help="A penalty on units that share their largest-weight words, so that units "
                                      "say different things. 0: off.")
            nonnegative = r1.checkbox("Units only add words", default["nonnegative"], key="sbn_nonnegative",
                                      persist_state=ui.KEEP, help="Unit-word weights U >= 0.")
            prior = r2.number_input("Fixed prior logit (0 = learned)", -10.0, 0.0,
                                    float(default["prior_logit"] or 0.0), step=0.5, key="sbn_prior",
                                    persist_state=ui.KEEP,
                                    help="E.g. -2.5: each unit on in about 8% of documents a priori (a sparse prior).")
        submitted = st.button("Train SBN", type="primary", key="train_sbn")
    if submitted and not busy():
        with ui.page_errors("starting the SBN"):
            layers = settings.parse_layers(layers_text)
            algo = settings.SBN_ALGORITHMS[algorithm]
            units = {"fixed_background": background, "weight_l1": weight_l1, "coherence_weight": coherence,
                     "overlap_weight": overlap, "nonnegative": nonnegative, "prior_logit": prior}
            if perplexity_preset:
                units.update({k: 0.0 if k == "prior_logit" and v is None else v
                              for k, v in PRESETS["perplexity"].items()})
            background, weight_l1, coherence, overlap, nonnegative, prior = (
                units[k] for k in ("fixed_background", "weight_l1", "coherence_weight", "overlap_weight", "nonnegative",
                                   "prior_logit"))
            estimator = settings.sbn_estimator(
                layers=layers, algorithm=algo, max_epochs=max_epochs, max_seconds=max_seconds,
                learning_rate=lr, encoder_learning_rate=enc_lr, batch_size=batch, patience=patience, seed=seed,
                prior=settings.SBN_PRIORS[prior_label], inference=settings.SBN_INFERENCE[inference_label],
                mean_field_steps=mean_field_steps, **units,
            )
            chosen = settings.model_name(name) if name.strip() else state.unique_name(
                settings.default_name(
                "fdarn" if settings.SBN_PRIORS[prior_label] == "autoregressive" else "sbn",
                algo + ("-arq" if settings.SBN_INFERENCE[inference_label] == "autoregressive" else ""), layers))
            if not state.unique_name(chosen) == chosen:
                st.error(f"A model named {ui.md(chosen)} exists already; choose another name.")
                return
            run_settings = {"kind": "sbn", "algorithm": algo, "layers": list(layers), "max_epochs": max_epochs,
                            "max_seconds": max_seconds, "learning_rate": lr, "batch_size": batch, "seed": seed,
                            "fixed_background": background, "weight_l1": weight_l1,
                            "coherence_weight": coherence, "overlap_weight": overlap, "nonnegative": nonnegative,
                            "prior_logit": prior, "prior": settings.SBN_PRIORS[prior_label],
                            "inference": settings.SBN_INFERENCE[inference_label],
                            "mean_field_steps": resolve_mean_field_steps(
                                estimator.mean_field_steps, layers, estimator.prior, estimator.inference)}
            start(chosen, estimator, run_settings, max_epochs, max_seconds)


def lda_settings() -> None:
    """LDA's settings and its Train button.

    Plain widgets in a bordered box rather than an ``st.form``: a form sends its values only when
    submitted, so Enter in any field (the Name, say) started training with whatever the form held,
    and values typed but not yet submitted were lost on a visit to another page. Here each value
    reaches the session as it is entered, is kept for the session (:data:`app.ui.KEEP`), and only
    the button starts a run."""
    default = REGISTRY["lda"].defaults()
    with st.container(border=True, key="lda_settings"):
        st.markdown("#### Latent Dirichlet allocation")
        st.caption("scikit-learn's variational Bayes (Hoffman, Blei & Bach 2010), for comparison.")
        name = st.text_input("Name", key="lda_name", persist_state=ui.KEEP, placeholder="default: lda-batch-50")
        c1, c2 = st.columns(2)
        n_units = c1.number_input("Topics", 1, 2000, default["n_units"], key="lda_units", persist_state=ui.KEEP)
        method = c2.selectbox("Learning method", list(settings.LDA_METHODS), key="lda_method", persist_state=ui.KEEP)
        max_iter = c1.number_input("Max. iterations (passes)", 1, 10_000, default["max_iter"],
                                   key="lda_iter", persist_state=ui.KEEP)
        max_seconds = c2.number_input("Time budget (s, 0 = none)", 0, 86_400, 60,
                                      key="lda_seconds", persist_state=ui.KEEP)
        patience = c2.number_input("Early-stopping patience (0 = none)", 0, 10_000, CompareSettings.lda_patience,
                                   key="lda_patience", persist_state=ui.KEEP,
                                   help="Stop after this many iterations without a better validation bound.")
        seed = c1.number_input("Seed", 0, 2**31 - 1, default["random_state"], key="lda_seed", persist_state=ui.KEEP)
        submitted = st.button("Train LDA", type="primary", key="train_lda")
    if submitted and not busy():
        with ui.page_errors("starting LDA"):
            learning = settings.LDA_METHODS[method]
            estimator = settings.lda_estimator(
                n_units=n_units, learning_method=learning, max_iter=max_iter, max_seconds=max_seconds,
                patience=patience, seed=seed,
            )
            chosen = settings.model_name(name) if name.strip() else state.unique_name(
                settings.default_name("lda", learning, n_units))
            if not state.unique_name(chosen) == chosen:
                st.error(f"A model named {ui.md(chosen)} exists already; choose another name.")
                return
            run_settings = {"kind": "lda", "learning_method": learning, "n_units": n_units, "max_iter": max_iter,
                            "max_seconds": max_seconds, "seed": seed}
            start(chosen, estimator, run_settings, max_iter, max_seconds)


BENCH_KINDS = [kind for kind in REGISTRY if kind not in ("sbn", "lda")]


def other_settings() -> None:
    """One box for the other models of the registry (the NVIL paper's bench: DocNADE, the
    Replicated Softmax, NVDM, the mixture): the settings every kind shares, its own defaults."""
    if not BENCH_KINDS:
        return
    with st.container(border=True, key="bench_settings"):
        st.markdown("#### More models")
        st.caption("The rivals of the NVIL paper's document bench, behind the same estimator contract and "
                   "measured by the same evaluation.")
        labels = {REGISTRY[k].variants[0].label if REGISTRY[k].variants else REGISTRY[k].label: k for k in BENCH_KINDS}
        c0, c1, c2 = st.columns([2, 1, 1])
        chosen_label = c0.selectbox("Model", list(labels), key="bench_kind", persist_state=ui.KEEP)
        kind = REGISTRY[labels[chosen_label]]
        default = kind.defaults()
        name = c0.text_input("Name", key=f"bench_name_{kind.kind}", persist_state=ui.KEEP,
                             placeholder=f"default: {kind.kind}-{default.get('n_units', 50)}")
        n_units = c1.number_input(f"{kind.unit_name.capitalize()}s", 1, 2000, default.get("n_units", 50),
                                  key=f"bench_units_{kind.kind}", persist_state=ui.KEEP)
        max_epochs = c2.number_input("Max. epochs", 1, 100_000, default.get(kind.budget_epochs_param or "", 100),
                                     key=f"bench_epochs_{kind.kind}", persist_state=ui.KEEP)
        max_seconds = c1.number_input("Time budget (s, 0 = none)", 0, 86_400, 60,
                                      key=f"bench_seconds_{kind.kind}", persist_state=ui.KEEP)
        seed = c2.number_input("Seed", 0, 2**31 - 1, default.get("random_state") or 0,
                               key=f"bench_seed_{kind.kind}", persist_state=ui.KEEP)
        lr = None
        if "learning_rate" in default:
            lr = c1.number_input("Learning rate", 1e-6, 1.0, float(default["learning_rate"]), format="%g", step=1e-4,
                                 key=f"bench_lr_{kind.kind}", persist_state=ui.KEEP)
        submitted = st.button(f"Train {kind.label}", type="primary", key="train_bench")
    if submitted and not busy():
        with ui.page_errors(f"starting {kind.label}"):
            params = {"n_units": int(n_units), "max_seconds": float(max_seconds) or None, "random_state": int(seed)}
            if kind.budget_epochs_param:
                params[kind.budget_epochs_param] = int(max_epochs)
            if lr is not None:
                params["learning_rate"] = float(lr)
            estimator = kind.estimator()(**params)
            chosen = settings.model_name(name) if name.strip() else state.unique_name(f"{kind.kind}-{int(n_units)}")
            if not state.unique_name(chosen) == chosen:
                st.error(f"A model named {ui.md(chosen)} exists already; choose another name.")
                return
            run_settings = {"kind": kind.kind, "n_units": int(n_units), "max_epochs": int(max_epochs),
                            "max_seconds": max_seconds, "seed": int(seed),
                            **({"learning_rate": float(lr)} if lr is not None else {})}
            start(chosen, estimator, run_settings, int(max_epochs), max_seconds)


# How often the progress panel reruns while a run goes: every second, and four times a second once
# a stop was asked for, so that the kept model shows as soon as the run has ended.
POLL_SECONDS, STOPPING_POLL_SECONDS = 1.0, 0.25


def poll_seconds(run) -> float | None:
    """The progress panel's interval for ``run`` (None: no live run, no polling)."""
    if run is None or run.finished:
        return None
    return STOPPING_POLL_SECONDS if run.cancel_requested else POLL_SECONDS


def progress_panel() -> None:
    """The current run's progress; polls while the run is going (:func:`poll_seconds`)."""
    with ui.page_errors("showing the training progress"):
        _progress()


def _progress() -> None:
    run = st.session_state.get(state.TRAINING)
    if run is None:
        return
    p = run.snapshot()
    if p.status not in (RUNNING, QUEUED):
        if state.collect_training() is not None:
            st.rerun(scope="app")
    sweeping = isinstance(run, SweepJob)
    st.markdown("#### Sweeping the number of units" if sweeping else f"#### Training {ui.md(run.name)}")
    if run.note:
        st.caption(ui.md(run.note))
    if p.status == QUEUED:
        place = SCHEDULER.position(run)
        if place is not None:
            st.info(f"Waiting for its turn: number {place[0]} of {place[1]} in the queue (this server trains "
                    f"{SCHEDULER.max_running} model(s) at once). It starts by itself; you can close the page.",
                    icon=":material/hourglass_top:")
        if st.button("Cancel (remove from the queue)", key="cancel_training", icon=":material/stop_circle:"):
            SCHEDULER.cancel(run)
            st.rerun(scope="app")
        return
    if sweeping:
        sweep_view.progress(run, p)
        return
    parts = [f"{100 * p.fraction:.0f} %", epochs_text(p)]
    if p.docs_seen:
        parts.append(f"{p.docs_seen:,} documents seen")
    parts.append(f"{ui.fmt_seconds(p.elapsed)} elapsed")
    if p.status == RUNNING:
        parts.append(f"about {ui.fmt_seconds(p.remaining)} left (at most)" if p.remaining is not None else "estimating...")
    else:
        parts.append({"done": "finished", "cancelled": "cancelled, best model kept", "failed": "failed",
                      "interrupted": "interrupted"}[p.status])
    st.progress(p.fraction, text=" · ".join(parts))
    if p.error:
        st.error(ui.md(p.error))
    curve = [
        {"model": run.name, "epoch": h.get("epochs", h.get("epoch", i + 1)), "seconds": h.get("seconds", 0.0),
         "val_perplexity_bound": h["val_perplexity_bound"]}
        for i, h in enumerate(p.history)
        if h.get("val_perplexity_bound") is not None
    ]
    if curve:
        st.altair_chart(charts.training_curves(pd.DataFrame(curve), x="epoch"), width="stretch")
        updates = run.settings.get("mean_field_steps")
        st.caption(f"Per-document perplexity bound on {run.settings['n_val_docs']} held-out training documents"
                   + (", measured every few seconds within the first epochs too." if any(
                       h.get("interim") for h in p.history) else ".")
                   + (f" It scores q as training has it, the inference network alone; the trained model's q adds "
                      f"its {updates} mean-field updates (a tighter bound)." if updates else ""))
    if p.status == RUNNING:
        if run.cancel_requested:
            st.info("Stopping after the current step; the best model so far will be kept.")
        elif st.button("Cancel (keep the best model so far)", key="cancel_training", icon=":material/stop_circle:"):
            SCHEDULER.cancel(run)
            st.rerun(scope="app")  # (the whole page: the panel's interval is set there)


def epochs_text(p) -> str:
    """Epochs done, with the running epoch's fraction while a run goes (LDA: iterations)."""
    if p.status == RUNNING and p.epochs != int(p.epochs):
        return f"{p.epochs:.1f} epochs"
    return f"{p.epoch} epoch{'' if p.epoch == 1 else 's'}"


def models_table() -> None:
    models = state.models()
    if not models:
        st.caption("No models in this session yet.")
        return
    ds = state.dataset()
    rows = []
    for entry in models.values():
        m = entry.model
        history = getattr(m, "history_", [])
        vals = [h["val_perplexity_bound"] for h in history if h.get("val_perplexity_bound") is not None]
        rows.append({
            "name": entry.name,
            "kind": entry.kind_label,
            "units": entry.n_units,
            "training": entry.settings.get("algorithm", entry.settings.get("learning_method", entry.origin)),
            "epochs": int(getattr(m, "n_iter_", len(history))),
            "train time (s)": round(float(getattr(m, "train_seconds_", float("nan"))), 1),
            "best val. perplexity (bound)": round(min(vals), 1) if vals else None,
            "stopped by": STOPPED.get(getattr(m, "stopped_", None), getattr(m, "stopped_", None) or "-"),
            "fits this corpus": entry.fits(ds),
        })
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


ui.page_setup()
st.title("Train")
ds = ui.require_corpus()
n_train = ds.train.n_docs
st.caption(
    f"Every model learns from the same {len(state.training_rows(n_train)):,} training documents; "
    f"{len(state.validation_rows(n_train)):,} more are held out for early stopping and the curves below. "
    "Training runs in the background on the server: you can switch pages, or close the page, meanwhile."
)
left, right = st.columns(2)
with left:
    sbn_settings()
with right:
    lda_settings()
other_settings()
sweep_view.settings_box(busy)

run = st.session_state.get(state.TRAINING)
active = run is not None and not run.finished
st.fragment(progress_panel, run_every=poll_seconds(run))()
if not (active and isinstance(run, SweepJob)):  # (a running sweep shows its chart above)
    with ui.page_errors("showing the sweep"):
        sweep_view.results()

st.subheader("Models in this session")
models_table()
