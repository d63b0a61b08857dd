"""Latent Dirichlet allocation (Blei, Ng & Jordan 2003) delegated to scikit-learn's variational
Bayes: the estimator (:mod:`.estimator`, :class:`LDATopicModel`), its training loop
(:mod:`.training`), the per-document inference and bounds it adds (:mod:`.inference`) and its
plain-data checkpoints (:mod:`.persistence`)."""

from docmodel.models.kind import ModelKind, Variant

ACTIVE_THRESHOLD = 0.1

KIND = ModelKind(
    kind="lda",
    label="LDA",
    estimator_path="docmodel.models.lda.estimator:LDATopicModel",
    unit_name="topic",
    representation="topic proportion",
    active_threshold=ACTIVE_THRESHOLD,
    on_rule=f"a share above {ACTIVE_THRESHOLD:.0%}",
    attribution="responsibility",
    attribution_text="Each word is coloured by the topic with the largest responsibility theta_k · beta[k, w].",
    export_prefix="topic_",
    export_tag="doc-topic",
    export_text="document-topic proportions",
    variants=(
        Variant("lda", "LDA (scikit-learn, batch VB)", fitted_label="LDA (scikit-learn, {model.learning_method} VB)",
                settings_params=("lda_params",), settings_values={"patience": "lda_patience"}, train_rank=0),
    ),
)
