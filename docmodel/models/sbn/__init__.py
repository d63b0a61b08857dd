"""The sigmoid belief network trained with NVIL (Mnih & Gregor, ICML 2014), wake-sleep,
REINFORCE or the concrete relaxation, with fDARN's autoregressive prior and an autoregressive
inference network as options: its networks (:mod:`.networks`, :mod:`.autoregressive`),
estimators of the gradient (:mod:`.nvil`, :mod:`.wake_sleep`, :mod:`.relaxed`), training
(:mod:`.training`) and the scikit-learn estimator (:mod:`.estimator`, :class:`SBNTopicModel`)."""

from docmodel.errors import ModelError
from docmodel.models.kind import ModelKind, Variant

ACTIVE_THRESHOLD = 0.5

PRESETS = {
    "readable": {"nonnegative": True, "prior_logit": -2.5, "weight_l1": 0.0, "coherence_weight": 5.0,
                 "overlap_weight": 1000.0},
    "perplexity": {"nonnegative": False, "prior_logit": None, "weight_l1": 0.0, "coherence_weight": 0.0,
                   "overlap_weight": 0.0},
}
"""Named settings for one purpose (``SBNTopicModel.preset``, ``--preset``, the app's Train page);
options given beside a preset override it. ``readable`` is what the defaults are: units that
only add words (U >= 0), a fixed sparse prior (each unit on in about 8% of documents a
priori), so that each unit is a theme that few documents take, a coherence prior that steers
each unit's largest weights to words that documents use together, and a penalty on units that
share those words, at a cost in perplexity.
``perplexity`` is the NVIL paper's model: signed unit-word weights and a learned prior, the best
perplexity, with units that form a distributed code (about 22 of 50 on in every document)
rather than topics. README, "Readable units", has the measured trade-off."""

def preset_text(name: str, sep: str = "=") -> str:
    """A preset's settings as a person reads them ("nonnegative=False, prior_logit=learned, ..."),
    for the CLI's help and the Train page."""
    return ", ".join(f"{k}{sep}{'learned' if v is None else v}" for k, v in PRESETS[name].items())


MEAN_FIELD_STEPS = 5
"""The mean-field updates in q of a one-layer SBN with a factorial prior and q by default
(``SBNTopicModel(mean_field_steps="auto")``). Chosen on 1,000 validation documents with the updates
added to a 15-minute model's q: bound 767.5, 763.7, 763.0, 762.6, 762.3 and 762.1 for 1, 2, 3, 5,
10 and 20 updates (789.4 without); five are within 0.5 of the best at a quarter of the cost of
twenty (README, "Mean-field updates in q")."""


def mean_field_applies(layers, prior: str, inference: str) -> bool:
    """Whether q's mean-field updates are defined for a model: one layer, a factorial prior and a
    factorial q (:mod:`.mean_field`)."""
    return len(tuple(layers)) == 1 and prior == "factorial" and inference == "factorial"


def resolve_mean_field_steps(steps, layers, prior: str, inference: str) -> int:
    """The number of mean-field updates that ``mean_field_steps=steps`` gives a model with these
    ``layers``, ``prior`` and ``inference``: ``"auto"`` is :data:`MEAN_FIELD_STEPS` for one layer
    with a factorial prior and q (the only models the updates apply to) and 0 otherwise; a number
    is returned as given (:class:`~docmodel.models.sbn.networks.SBNConfig` checks it)."""
    if isinstance(steps, str):
        if steps != "auto":
            raise ModelError(f"mean_field_steps must be 'auto' or a whole number in [0, 50], got {steps!r}")
        return MEAN_FIELD_STEPS if mean_field_applies(layers, prior, inference) else 0
    if isinstance(steps, bool) or int(steps) != steps:
        raise ModelError(f"mean_field_steps must be 'auto' or a whole number in [0, 50], got {steps!r}")
    return int(steps)

KIND = ModelKind(
    kind="sbn",
    label="SBN",
    estimator_path="docmodel.models.sbn.estimator:SBNTopicModel",
    unit_name="unit",
    representation="q(h_k = 1 | document)",
    active_threshold=ACTIVE_THRESHOLD,
    on_rule=f"q(h_k = 1 | document) > {ACTIVE_THRESHOLD:g}",
    attribution="on-units",
    attribution_text=(
        f"Each word is coloured by the unit, among those switched on (q > {ACTIVE_THRESHOLD:g}), that raises its "
        "logit most (q_k · U[w, k]); uncoloured words are outside the vocabulary or raised by no active unit."
    ),
    export_prefix="q_unit_",
    export_tag="doc-unit",
    export_text="document-unit probabilities q(h_k=1|x)",
    variants=(
        Variant("sbn_nvil", "SBN (NVIL)", params={"algorithm": "nvil"},
                settings_params=("sbn_params", "nvil_params"), train_rank=1),
        Variant("sbn_wake_sleep", "SBN (wake-sleep)", params={"algorithm": "wake-sleep"},
                settings_params=("sbn_params",), train_rank=2),
        Variant("fdarn_nvil", "fDARN (NVIL)", params={"prior": "autoregressive", "algorithm": "nvil"},
                settings_params=("sbn_params", "nvil_params"), train_rank=3),
        Variant("sbn_nvil_ar", "SBN (NVIL, autoregressive q)", params={"inference": "autoregressive", "algorithm": "nvil"},
                settings_params=("sbn_params", "nvil_params"), train_rank=4),
        Variant("sbn_relaxed", "SBN (relaxed, Gumbel-sigmoid)", params={"algorithm": "relaxed"},
                settings_params=("sbn_params",), train_rank=5),
        Variant("sbn_nvil_net", "SBN (NVIL, q without mean-field updates)",
                params={"algorithm": "nvil", "mean_field_steps": 0},
                settings_params=("sbn_params", "nvil_params"), train_rank=6),
    ),
    budget_epochs_param="max_epochs",
)
