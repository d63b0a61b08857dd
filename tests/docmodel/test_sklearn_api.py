"""Both estimators behave as scikit-learn estimators: clone, Pipeline, GridSearchCV, cross_validate."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline

from docmodel.models.lda.estimator import LDATopicModel
from docmodel.models.sbn.estimator import SBNTopicModel

THEMES = {
    "space": "orbit rocket launch nasa moon shuttle",
    "hockey": "team game season players goal hockey",
    "cars": "engine car driving speed oil wheels",
}


def documents(n=90, seed=0):
    rng = np.random.default_rng(seed)
    names = list(THEMES)
    out = []
    for i in range(n):
        words = THEMES[names[i % 3]].split()
        out.append(" ".join(rng.choice(words, 12)) + " the of and")
    return out


ESTIMATORS = [
    pytest.param(lambda: SBNTopicModel(n_units=3, max_epochs=150, random_state=0), id="sbn"),
    pytest.param(lambda: LDATopicModel(n_units=3, max_iter=10, random_state=0), id="lda"),
]


@pytest.mark.parametrize("make", ESTIMATORS)
def test_clone_and_params(make):
    est = make()
    params = est.get_params(deep=True)
    assert params["n_units"] == 3 and params["random_state"] == 0
    twin = clone(est)
    assert twin is not est and twin.get_params() == params
    twin.set_params(n_units=4)
    assert twin.n_units == 4 and est.n_units == 3


@pytest.mark.parametrize("make", ESTIMATORS)
def test_pipeline_with_count_vectorizer(make):
    docs = documents()
    pipe = make_pipeline(CountVectorizer(), make())
    out = pipe.fit_transform(docs)
    model = pipe[-1]
    assert out.shape == (len(docs), 3)
    assert model.n_features_in_ == len(pipe[0].vocabulary_)
    names = model.get_feature_names_out()
    assert list(names) == [f"{model.unit_name}{k}" for k in range(3)]
    assert np.isfinite(pipe.score(docs))


@pytest.mark.parametrize("make", ESTIMATORS)
def test_grid_search_chooses_by_the_bound(make):
    X = CountVectorizer().fit_transform(documents())
    search = GridSearchCV(make(), {"n_units": [1, 3]}, cv=3).fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    # score is the mean per-document bound on log p(x): higher is better, and three themes need
    # more than one unit.
    assert search.best_params_ == {"n_units": 3}
    assert search.best_score_ == pytest.approx(scores.max())


@pytest.mark.parametrize("make", ESTIMATORS)
def test_cross_validate(make):
    X = CountVectorizer().fit_transform(documents())
    result = cross_validate(make(), X, cv=3)
    assert len(result["test_score"]) == 3 and np.all(np.isfinite(result["test_score"]))


@pytest.mark.parametrize("make", ESTIMATORS)
def test_a_dataframes_column_names_are_the_feature_names_and_the_vocabulary(make):
    import pandas as pd

    vectorizer = CountVectorizer()
    counts = vectorizer.fit_transform(documents(60))
    words = vectorizer.get_feature_names_out()
    frame = pd.DataFrame(counts.toarray(), columns=words)
    est = make().set_params(max_epochs=5) if "max_epochs" in make().get_params() else make().set_params(max_iter=3)
    est.fit(frame)
    assert list(est.feature_names_in_) == list(words)
    assert list(est.vocabulary_.words) == list(words)
    assert all(w in set(words) for row in est.top_words(3) for w in row)
    est.fit(counts)  # no names: none kept from the earlier fit
    assert not hasattr(est, "feature_names_in_") and est.vocabulary_ is None
