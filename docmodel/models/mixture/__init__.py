"""The mixture of multinomials (a mixture of unigrams: Nigam, McCallum, Thrun & Mitchell 2000),
the document analogue of the mixture of Bernoullis that Mnih & Gregor (2014) use as a baseline,
trained by batch EM with Dirichlet smoothing (MAP-EM): its EM arithmetic (:mod:`.em`), the
estimator (:mod:`.estimator`, :class:`MixtureTopicModel`) and its plain-data checkpoints
(:mod:`.persistence`)."""

from docmodel.models.kind import ModelKind, Variant

ACTIVE_THRESHOLD = 0.5

KIND = ModelKind(
    kind="mixture",
    label="Mixture",
    estimator_path="docmodel.models.mixture.estimator:MixtureTopicModel",
    unit_name="component",
    representation="p(component | document)",
    active_threshold=ACTIVE_THRESHOLD,
    on_rule=f"p(component | document) > {ACTIVE_THRESHOLD:g}",
    attribution="responsibility",
    attribution_text=(
        "Each word is coloured by the component with the largest responsibility "
        "p(k | document) · beta[k, w]."
    ),
    export_prefix="component_",
    export_tag="doc-component",
    export_text="document-component responsibilities p(k | x)",
    variants=(
        Variant("mixture", "Mixture of multinomials (EM)", train_rank=1),
    ),
    budget_epochs_param="max_epochs",
    estimates_text=(
        "*Mixture*: its likelihood is exact, so its bound, importance-sampled and completion figures are the "
        "exact log p(x) (and log p(held-out half | observed half)), without sampling."
    ),
)
