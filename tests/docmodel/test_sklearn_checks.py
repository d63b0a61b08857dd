"""scikit-learn's own estimator checks over every estimator (``parametrize_with_checks``)."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from docmodel.models.docnade.estimator import DocNADETopicModel
from docmodel.models.lda.estimator import LDATopicModel
from docmodel.models.mixture.estimator import MixtureTopicModel
from docmodel.models.nvdm.estimator import NVDMTopicModel
from docmodel.models.rsm.estimator import RSMTopicModel
from docmodel.models.sbn.estimator import SBNTopicModel

# Every check expected to fail or skipped, with the reason.
FLOAT32_BATCHES = (
    "float32 sums may differ by rounding when documents are batched or ordered otherwise (some runs pass)"
)
EXPECTED_FAILURES = {
    # transform is the encoder's posterior mean in float32: a subset or a reordering changes how the
    # BLAS sums, about 1e-7 relative, where the checks allow 1e-7.
    "NVDMTopicModel": {
        "check_methods_subset_invariance": FLOAT32_BATCHES,
        "check_methods_sample_order_invariance": FLOAT32_BATCHES,
    },
    "SBNTopicModel": {
        # transform computes q(h|x) in float32 batches; reordering the documents changes how the
        # BLAS sums them, a difference of about 1e-7 relative, where the check allows 1e-7.
        "check_methods_sample_order_invariance": (
            "float32 sums may differ by rounding when documents are reordered (some runs pass)"
        ),
    },
}


def expected_failures(estimator) -> dict:
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(
    [
        LDATopicModel(n_units=2, max_iter=5, random_state=0),
        SBNTopicModel(n_units=2, max_epochs=3, random_state=0),
        MixtureTopicModel(n_units=2, max_epochs=3, random_state=0),
        DocNADETopicModel(n_units=2, max_epochs=3, random_state=0),
        NVDMTopicModel(n_units=2, max_epochs=3, random_state=0),
        RSMTopicModel(n_units=2, max_epochs=3, random_state=0),
    ],
    expected_failed_checks=expected_failures,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
