"""The model kinds, one sub-package each, and the registry the rest of docmodel reads.

Adding a kind: a sub-package ``docmodel/models/<kind>/`` whose ``__init__`` declares its
:class:`~docmodel.models.kind.ModelKind` record as ``KIND``, and one entry in ``REGISTRY`` below.
Checkpoints (``load_model``), ``docmodel compare``, ``docmodel train`` and the app then know it.
"""

from __future__ import annotations

from docmodel.errors import ModelError
from docmodel.models import docnade, lda, mixture, nvdm, rsm, sbn
from docmodel.models.kind import ModelKind, Variant

REGISTRY: dict[str, ModelKind] = {k.kind: k for k in (sbn.KIND, lda.KIND, docnade.KIND, rsm.KIND, nvdm.KIND, mixture.KIND)}
"""kind -> record, in the order the CLI and the app list them."""

VARIANTS: dict[str, tuple[Variant, ModelKind]] = {v.name: (v, k) for k in REGISTRY.values() for v in k.variants}
"""``docmodel compare`` model name -> (variant, kind)."""


def model_kind(kind) -> ModelKind:
    """The record of ``kind`` (a kind name, or an estimator with a ``kind`` attribute)."""
    name = getattr(kind, "kind", kind)
    if isinstance(name, str) and name in REGISTRY:
        return REGISTRY[name]
    raise ModelError(f"unknown model kind {name!r}; docmodel knows {', '.join(REGISTRY)}")


def variant(name: str) -> tuple[Variant, ModelKind]:
    """The compare variant ``name`` and its kind."""
    if name in VARIANTS:
        return VARIANTS[name]
    raise ModelError(f"unknown model {name!r}; choose from {', '.join(VARIANTS)}")


__all__ = ["REGISTRY", "VARIANTS", "ModelKind", "Variant", "model_kind", "variant"]
