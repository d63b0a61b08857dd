"""DocNADE, the neural autoregressive document model (Larochelle & Lauly, "A Neural
Autoregressive Topic Model", NIPS 2012): its network (:mod:`.network`), the order in which a bag
of words is read (:mod:`.sequences`), the exact log-probability of word sequences
(:mod:`.likelihood`), its training run (:mod:`.training`), the scikit-learn estimator (:mod:`.estimator`,
:class:`DocNADETopicModel`) and its plain-data checkpoints (:mod:`.persistence`)."""

from docmodel.models.kind import ModelKind, Variant

ACTIVE_THRESHOLD = 0.5

KIND = ModelKind(
    kind="docnade",
    label="DocNADE",
    estimator_path="docmodel.models.docnade.estimator:DocNADETopicModel",
    unit_name="unit",
    representation="hidden activation sigmoid(c + W x)",
    active_threshold=ACTIVE_THRESHOLD,
    on_rule=f"sigmoid(c + W x)_k > {ACTIVE_THRESHOLD:g}",
    attribution="on-units",
    attribution_text=(
        f"Each word is coloured by the hidden unit, among those on (activation > {ACTIVE_THRESHOLD:g}), that raises "
        "its output logit most (h_k · V[w, k]); uncoloured words are outside the vocabulary or raised by no "
        "active unit."
    ),
    export_prefix="h_unit_",
    export_tag="doc-unit",
    export_text="document hidden activations sigmoid(c + W x)",
    variants=(Variant("docnade", "DocNADE", train_rank=1),),
    budget_epochs_param="max_epochs",
    estimates_text=(
        "*DocNADE*: its likelihood is exact, so its bound and importance-sampled figures are the same exact "
        "log-probability of each document read in one seeded random order of its words (the others' figures are "
        "also the probability of one word sequence: no multinomial coefficient), and its completion is the exact "
        "log p(held-out half | observed half) with the observed words read first."
    ),
)
