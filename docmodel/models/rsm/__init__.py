"""The Replicated Softmax (Salakhutdinov & Hinton, "Replicated Softmax: an Undirected Topic
Model", NIPS 2009): an RBM with binary hidden units and one softmax over the vocabulary shared
by every token of a document. Its parameters and closed forms (:mod:`.network`), contrastive
divergence (:mod:`.training`, :mod:`.sampling`), the partition function by annealed importance
sampling (:mod:`.ais`), the estimator (:mod:`.estimator`, :class:`RSMTopicModel`) and its
checkpoints (:mod:`.persistence`)."""

from docmodel.models.kind import ModelKind, Variant

ACTIVE_THRESHOLD = 0.5

KIND = ModelKind(
    kind="rsm",
    label="RSM",
    estimator_path="docmodel.models.rsm.estimator:RSMTopicModel",
    unit_name="unit",
    representation="p(h_j = 1 | document)",
    active_threshold=ACTIVE_THRESHOLD,
    on_rule=f"p(h_j = 1 | document) > {ACTIVE_THRESHOLD:g}",
    attribution="on-units",
    attribution_text=(
        f"Each word is coloured by the hidden unit, among those switched on (p > {ACTIVE_THRESHOLD:g}), that "
        "raises its logit most (p_j · W[w, j]); uncoloured words are outside the vocabulary or raised by no "
        "active unit."
    ),
    export_prefix="p_unit_",
    export_tag="doc-unit",
    export_text="document-unit probabilities p(h_j=1|x)",
    variants=(
        Variant("rsm", "Replicated Softmax (CD)", train_rank=1),
    ),
    budget_epochs_param="max_epochs",
    estimates_text=(
        "*RSM*: it has no variational bound; its bound and importance-sampled figures are both the free energy "
        "with log Z estimated by annealed importance sampling (10 and 100 runs), optimistic in expectation, and "
        "its completion is the ratio of the models of the two lengths, log p_D(document) - log p_d(observed half)."
    ),
)
