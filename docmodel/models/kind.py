"""What the rest of docmodel knows about a model kind: one :class:`ModelKind` record per kind.

Each kind's sub-package (``docmodel.models.<kind>``) declares its record in its ``__init__``;
:mod:`docmodel.models` collects them in the registry. Checkpoints, ``docmodel compare``, the CLI
and the app read names, words and thresholds from the record instead of testing a kind's name.
This module imports nothing heavy, so the registry can be read without torch or scikit-learn.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Variant:
    """One way ``docmodel compare`` trains a kind (for example the SBN with NVIL or wake-sleep).

    Attributes
    ----------
    name : str
        Its key in ``docmodel compare --models`` and in reports (``sbn_nvil``).
    label : str
        Its name in reports and tables.
    fitted_label : str or None
        The name once fitted, with ``{model.<attribute>}`` fields filled from the estimator
        (``LDA (scikit-learn, {model.learning_method} VB)``); None: ``label``.
    params : mapping
        Estimator parameters that make the variant (``{"algorithm": "nvil"}``).
    settings_params : tuple of str
        The :class:`docmodel.compare.CompareSettings` mappings applied to it, in order (later
        ones win; ``params`` wins over all).
    settings_values : mapping
        Estimator parameter -> :class:`~docmodel.compare.CompareSettings` attribute holding its
        value (``{"patience": "lda_patience"}``).
    train_rank : int
        Order of training in a comparison, lowest first: models that usually stop early go
        first and leave their unused time to the others.
    """

    name: str
    label: str
    fitted_label: str | None = None
    params: Mapping = field(default_factory=dict)
    settings_params: tuple[str, ...] = ()
    settings_values: Mapping = field(default_factory=dict)
    train_rank: int = 0

    def label_of(self, model=None) -> str:
        """The label, of the fitted ``model`` where given."""
        return self.label if model is None or self.fitted_label is None else self.fitted_label.format(model=model)


@dataclass(frozen=True)
class ModelKind:
    """One model kind.

    Attributes
    ----------
    kind : str
        The name stored in checkpoints (``"sbn"``).
    label : str
        Short display name (``"SBN"``).
    estimator_path : str
        ``"module:Class"`` of its :class:`docmodel.base.TopicModel` estimator, imported on demand.
    unit_name : str
        What one latent dimension is called (``"unit"``, ``"topic"``).
    representation : str
        What ``transform`` gives per document and unit, as a column title.
    active_threshold : float
        A unit counts as on for a document when ``transform`` exceeds this.
    on_rule : str
        The rule for "on" in words, for captions (``"q(h_k = 1 | document) > 0.5"``).
    attribution : str
        How a document's words are credited to units (:func:`docmodel.explain.word_attribution`):
        ``"on-units"`` (the unit among those on that raises the word most) or ``"responsibility"``
        (the unit with the largest weight times word probability).
    attribution_text : str
        That rule in words, for the app.
    export_prefix : str
        Column prefix of the per-document representation in CSV exports (``"q_unit_"``).
    export_tag : str
        File-name tag of that export (``"doc-unit"``).
    export_text : str
        What that export holds, in words (``"document-unit probabilities q(h_k=1|x)"``).
    variants : tuple of Variant
        How ``docmodel compare`` trains it.
    budget_epochs_param : str or None
        A parameter capping epochs that a time budget replaces (set very high when the run has a
        time budget, so that the budget ends it).
    estimates_text : str
        What its bound, importance-sampled and completion figures are, in one or two sentences,
        for reports (empty: the report's general note covers it).
    """

    kind: str
    label: str
    estimator_path: str
    unit_name: str
    representation: str
    active_threshold: float
    on_rule: str
    attribution: str
    attribution_text: str
    export_prefix: str
    export_tag: str
    export_text: str
    variants: tuple[Variant, ...] = ()
    budget_epochs_param: str | None = None
    estimates_text: str = ""

    @property
    def units_title(self) -> str:
        """``"SBN units"``, ``"LDA topics"``."""
        return f"{self.label} {self.unit_name}s"

    def estimator(self) -> type:
        """The estimator class (imports its module)."""
        module, name = self.estimator_path.split(":")
        return getattr(importlib.import_module(module), name)

    def defaults(self) -> dict:
        """The estimator's parameters and their defaults, read from its signature: the one place
        a default is set (the CLI and the app read them here)."""
        parameters = inspect.signature(self.estimator().__init__).parameters
        return {name: p.default for name, p in parameters.items() if name != "self" and p.default is not p.empty}
