"""The neural variational document model, NVDM (Miao, Yu & Blunsom, "Neural Variational
Inference for Text Processing", ICML 2016): a Gaussian latent vector, a softmax word layer and an
MLP encoder trained with the reparameterisation trick. Its networks (:mod:`.networks`), the ELBO
and the three estimates of log p(x) (:mod:`.elbo`), training (:mod:`.training`), the estimator
(:mod:`.estimator`, :class:`NVDMTopicModel`) and its checkpoints (:mod:`.persistence`)."""

from docmodel.models.kind import ModelKind, Variant

ACTIVE_THRESHOLD = 1.0
"""A dimension is on for a document when its posterior mean exceeds one prior standard deviation."""

KIND = ModelKind(
    kind="nvdm",
    label="NVDM",
    estimator_path="docmodel.models.nvdm.estimator:NVDMTopicModel",
    unit_name="dimension",
    representation="posterior mean E_q[z_k | document]",
    active_threshold=ACTIVE_THRESHOLD,
    on_rule=f"posterior mean mu_k(document) > {ACTIVE_THRESHOLD:g} (prior standard deviations)",
    attribution="on-units",
    attribution_text=(
        f"Each word is coloured by the dimension, among those switched on (posterior mean mu_k > "
        f"{ACTIVE_THRESHOLD:g}), that raises its logit most (mu_k · R[w, k]); uncoloured words are outside "
        "the vocabulary or raised by no dimension that is on."
    ),
    export_prefix="mu_dim_",
    export_tag="doc-dimension",
    export_text="document posterior means mu_k(x) of the latent dimensions",
    variants=(
        Variant("nvdm", "NVDM (reparameterised VAE)", train_rank=1),
    ),
    budget_epochs_param="max_epochs",
    estimates_text=(
        "*NVDM*: the SBN's three estimators with a Gaussian q(z | x): the bound averages 10 single-sample bounds "
        "log p(x | z) + log p(z) - log q(z | x) (the KL sampled, not in closed form), IS takes the log-mean-exp of "
        "100 such weights, completion scores the held-out half under z drawn from q given the observed half."
    ),
)
