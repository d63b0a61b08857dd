"""Document models on bag-of-words matrices.

The sigmoid belief network trained with NVIL (Mnih & Gregor, "Neural Variational Inference and
Learning in Belief Networks", ICML 2014) and, for comparison, LDA delegated to scikit-learn.
Every model kind lives in its own sub-package of :mod:`docmodel.models` and follows one
estimator contract (:class:`docmodel.base.TopicModel`); all are measured by the same code
(:mod:`docmodel.evaluation`). The estimators are importable from here
(``from docmodel import SBNTopicModel``); they load torch and scikit-learn only when asked for.
"""

from docmodel.errors import ModelError, NotFittedError
from docmodel.models import REGISTRY

_ESTIMATORS = {kind.estimator_path.rpartition(":")[2]: kind for kind in REGISTRY.values()}

__all__ = ["ModelError", "NotFittedError", *_ESTIMATORS]


def __getattr__(name: str):
    if name in _ESTIMATORS:
        return _ESTIMATORS[name].estimator()
    raise AttributeError(f"module 'docmodel' has no attribute {name!r}")
