"""Document models on bag-of-words matrices.

The sigmoid belief network trained with NVIL (Mnih & Gregor, "Neural Variational Inference and
Learning in Belief Networks", ICML 2014) and, for comparison, LDA delegated to scikit-learn.
Both follow one estimator contract (:class:`docmodel.base.TopicModel`) and are measured by the
same code (:mod:`docmodel.evaluation`).
"""

from docmodel.errors import ModelError, NotFittedError

__all__ = ["ModelError", "NotFittedError"]
