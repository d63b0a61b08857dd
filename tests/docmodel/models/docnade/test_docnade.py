"""DocNADETopicModel: exact probabilities checked by enumeration and against a per-token loop,
the order convention, gradients, training on planted structure, checkpoints and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from corpora import Vocabulary
from docmodel.checkpoint import load_checkpoint
from docmodel.errors import ModelError, NotFittedError
from docmodel.evaluation import evaluate, split_for_completion
from docmodel.models.docnade import KIND
from docmodel.models.docnade.estimator import DocNADETopicModel
from docmodel.models.docnade.likelihood import sequence_log_probs
from docmodel.models.docnade.network import DocNADE, DocNADEConfig, balanced_tree
from docmodel.models.docnade.sequences import (
    TokenSequences,
    bag_sequences,
    completion_sequences,
    doc_groups,
    token_counts,
)

SOFTMAXES = ("full", "tree")


def random_net(n_words=3, n_units=2, softmax="full", seed=0, scale=1.0):
    """A network with weights large enough that every conditional differs from uniform."""
    net = DocNADE(DocNADEConfig(n_words, n_units, softmax))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return net


def sequences(docs, scored=None) -> TokenSequences:
    """Given word sequences laid end to end."""
    starts = np.concatenate([[0], np.cumsum([len(d) for d in docs])]).astype(np.int64)
    tokens = np.concatenate([np.asarray(d, dtype=np.int64) for d in docs]) if docs else np.zeros(0, np.int64)
    return TokenSequences(tokens, starts, None if scored is None else np.asarray(scored, dtype=bool))


def reference_log_p(net: DocNADE, doc) -> float:
    """log p(v) by the definition, one position at a time, in float64."""
    W = net.W.detach().double().numpy()
    c = net.c.detach().double().numpy()
    Vw = net.out_weight.detach().double().numpy()
    b = net.out_bias.detach().double().numpy()
    n_words = net.config.n_words
    total, a = 0.0, c.copy()
    for v in doc:
        h = 1.0 / (1.0 + np.exp(-a))
        if net.config.softmax == "full":
            logits = b + Vw @ h
            total += logits[v] - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
        else:  # walk the balanced tree: a range [lo, hi) rooted at node `node`, left = first ceil half
            lo, hi, node = 0, n_words, 0
            while hi - lo > 1:
                mid = lo + (hi - lo + 1) // 2
                p_right = 1.0 / (1.0 + np.exp(-(b[node] + Vw[node] @ h)))
                if v < mid:
                    total += np.log(1.0 - p_right)
                    hi, node = mid, node + 1
                else:
                    total += np.log(p_right)
                    lo, node = mid, node + (mid - lo)  # skip the left subtree's mid - lo - 1 nodes
        a = a + W[v]
    return total


def planted_corpus(n_docs=300, n_blocks=4, words_per_block=6, length=30, seed=0):
    """Documents that draw their words from one of ``n_blocks`` disjoint word blocks."""
    rng = np.random.default_rng(seed)
    V = n_blocks * words_per_block
    rows = []
    for _ in range(n_docs):
        p = np.zeros(V)
        block = rng.integers(n_blocks)
        p[block * words_per_block : (block + 1) * words_per_block] = 1.0
        rows.append(rng.multinomial(rng.integers(length // 2, length + 1), p / p.sum()))
    vocab = Vocabulary(tuple(f"w{b}_{i}" for b in range(n_blocks) for i in range(words_per_block)))
    return sp.csr_matrix(np.array(rows)), vocab


def small_model(**kw):
    params = dict(n_units=6, max_epochs=15, batch_size=32, n_val_docs=40, patience=None, learning_rate=2e-2)
    params.update(kw)
    return DocNADETopicModel(**params)


@pytest.fixture(scope="module")
def fitted():
    torch.set_num_threads(1)
    X, vocab = planted_corpus()
    return small_model().fit(X, vocabulary=vocab), X


# ---- exact probabilities ------------------------------------------------------------------
@pytest.mark.parametrize("softmax", SOFTMAXES)
@pytest.mark.parametrize("length", [1, 2, 3])
def test_every_sequence_of_a_length_sums_to_one(softmax, length):
    net = random_net(n_words=3, softmax=softmax)
    docs = [list(s) for s in itertools.product(range(3), repeat=length)]
    for chunk in (2, 1000):  # runs cut inside documents, and one run for everything
        log_p = sequence_log_probs(net, sequences(docs), chunk=chunk)
        assert np.exp(log_p).sum() == pytest.approx(1.0, abs=1e-6)
        assert np.all(log_p < 0)


@pytest.mark.parametrize("softmax", SOFTMAXES)
@pytest.mark.parametrize("n_words", [1, 2, 5, 8])
def test_batched_runs_equal_a_per_token_loop(softmax, n_words):
    net = random_net(n_words=n_words, n_units=4, softmax=softmax, scale=0.5)
    rng = np.random.default_rng(1)
    docs = [rng.integers(n_words, size=n).tolist() for n in (5, 1, 0, 12, 3, 9)]
    expected = [reference_log_p(net, d) for d in docs]
    for chunk in (1, 3, 7, None):
        got = sequence_log_probs(net, sequences(docs), chunk=chunk)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert got[2] == 0.0  # no tokens, log 1


def test_balanced_tree_paths_are_short_and_distinct():
    for n_words in (1, 2, 3, 7, 8, 9, 2000):
        nodes, signs = balanced_tree(n_words)
        assert nodes.shape == signs.shape == (n_words, int(np.ceil(np.log2(n_words))) if n_words > 1 else 0)
        paths = {tuple(int(s) for s in row) for row in signs}  # a word is its turns
        assert len(paths) == n_words
        assert sorted(set(nodes[signs != 0].tolist())) == list(range(n_words - 1))


@pytest.mark.parametrize("softmax", SOFTMAXES)
def test_completion_is_full_order_minus_observed_prefix(softmax):
    net = random_net(n_words=4, n_units=3, softmax=softmax)
    obs, held = [2, 0, 0], [1, 3]
    got = sequence_log_probs(net, sequences([obs + held], scored=[0, 0, 0, 1, 1]), chunk=2)[0]
    assert got == pytest.approx(reference_log_p(net, obs + held) - reference_log_p(net, obs), abs=1e-5)


def permutation_log_probs(net, bag):
    """log p of every distinct order of a bag (list of word ids)."""
    orders = sorted(set(itertools.permutations(bag)))
    return {o: reference_log_p(net, o) for o in orders}


def model_with(net: DocNADE) -> DocNADETopicModel:
    """A fitted estimator around ``net`` (through the checkpoint path)."""
    model = DocNADETopicModel(n_units=net.config.n_units, softmax=net.config.softmax)
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    state["word_frequencies"] = torch.full((net.config.n_words,), 1.0 / net.config.n_words, dtype=torch.float64)
    data = {"kind": "docnade", "config": {"params": model.get_params(), "network": net.config.to_dict()},
            "state": state, "vocabulary": None, "metrics": {}, "history": []}
    return DocNADETopicModel.from_checkpoint(data)


@pytest.mark.parametrize("softmax", SOFTMAXES)
def test_estimates_score_one_seeded_order_of_each_bag(softmax):
    net = random_net(n_words=4, n_units=3, softmax=softmax)
    model = model_with(net)
    X = sp.csr_matrix(np.array([[2, 1, 0, 1], [0, 0, 3, 0], [0, 0, 0, 0], [1, 1, 1, 1]]))
    bound = model.log_likelihood_bound(X, random_state=5)
    np.testing.assert_array_equal(bound, model.log_likelihood_is(X, n_samples=7, random_state=5))
    np.testing.assert_array_equal(bound, model.log_likelihood_bound(X, random_state=5))
    assert bound[2] == 0.0
    for row, value in zip(X.toarray(), bound):
        if row.sum():
            options = permutation_log_probs(net, np.repeat(np.arange(4), row).tolist())
            assert min(abs(value - v) for v in options.values()) < 1e-5
    # another seed reads the mixed bags in other orders (a one-word bag has one order)
    other = model.log_likelihood_bound(X, random_state=6)
    assert other[1] == pytest.approx(bound[1], abs=1e-6)
    assert not np.allclose(other[[0, 3]], bound[[0, 3]])


def test_estimator_completion_puts_the_observed_half_first():
    net = random_net(n_words=3, n_units=2)
    model = model_with(net)
    X_obs, X_held = sp.csr_matrix(np.array([[1, 1, 0]])), sp.csr_matrix(np.array([[0, 1, 2]]))
    got = model.log_likelihood_completion(X_obs, X_held, random_state=3)[0]
    options = [reference_log_p(net, o + h) - reference_log_p(net, o)
               for o in set(itertools.permutations([0, 1])) for h in set(itertools.permutations([1, 2, 2]))]
    assert min(abs(got - v) for v in options) < 1e-5
    seqs = completion_sequences(token_counts(X_obs), token_counts(X_held), np.arange(1), np.random.default_rng(0))
    assert sorted(seqs.tokens[:2]) == [0, 1] and seqs.scored.tolist() == [False, False, True, True, True]


@pytest.mark.parametrize("softmax", SOFTMAXES)
def test_gradients_reach_every_parameter_and_agree_across_runs(softmax):
    net = random_net(n_words=6, n_units=3, softmax=softmax, scale=0.5)
    seqs = sequences([[0, 5, 2, 2, 1], [3, 4], [5, 0, 1, 1, 2, 3, 4]])
    grads = []
    for chunk in (3, 1000):
        net.zero_grad()
        sequence_log_probs(net, seqs, chunk=chunk, loss_scale=1.0)
        grads.append({k: p.grad.clone() for k, p in net.named_parameters()})
    for name, g in grads[1].items():
        assert torch.all(torch.isfinite(g)) and g.abs().sum() > 0, name
        torch.testing.assert_close(grads[0][name], g, rtol=1e-5, atol=1e-6)
    # the gradient is that of -sum log p: compare one weight with a finite difference
    with torch.no_grad():
        eps, w = 1e-3, net.W
        w[1, 0] += eps
        up = sequence_log_probs(net, seqs).sum()
        w[1, 0] -= 2 * eps
        down = sequence_log_probs(net, seqs).sum()
        w[1, 0] += eps
    assert -(up - down) / (2 * eps) == pytest.approx(float(grads[1]["W"][1, 0]), rel=2e-2, abs=1e-4)


def test_evaluate_bound_equals_is_and_is_marked_exact(fitted):
    model, X = fitted
    figures = evaluate(model, X[:30], random_state=2)
    assert figures["perplexity_bound"] == figures["perplexity_is"]
    assert DocNADETopicModel.exact_likelihood
    X_obs, X_held, _ = split_for_completion(X[:30], random_state=2)
    full_minus_obs = model.log_likelihood_completion(X_obs, X_held, random_state=2)
    assert np.all(full_minus_obs < 0) and np.all(np.isfinite(full_minus_obs))


def test_doc_groups_cap_tokens_and_keep_long_documents_whole():
    groups = doc_groups(np.array([3, 4, 10, 1, 1, 2]), 5)
    assert [g.tolist() for g in groups] == [[0], [1], [2], [3, 4, 5]]
    assert doc_groups(np.zeros(0, dtype=np.int64), 5) == []


# ---- the estimator --------------------------------------------------------------------------
def test_training_lowers_validation_perplexity(fitted):
    model, X = fitted
    val = [h["val_perplexity_bound"] for h in model.history_]
    assert model.best_val_perplexity_bound_ == min(val) < val[0]
    # Each document uses one block of 6 of the 24 words: a model that learnt the blocks from the
    # first tokens beats the corpus' word frequencies (perplexity about 24) by far.
    assert model.best_val_perplexity_bound_ < 12
    assert model.n_iter_ == len(model.history_) == 15 and model.stopped_ == "max_epochs"


def test_transform_is_the_hidden_state_after_the_document(fitted):
    model, X = fitted
    T = model.transform(X[:20])
    assert T.shape == (20, 6) and T.dtype == np.float64 and np.all((T >= 0) & (T <= 1))
    W, c = model.net_.W.detach().double().numpy(), model.net_.c.detach().double().numpy()
    np.testing.assert_allclose(T, 1 / (1 + np.exp(-(X[:20].toarray() @ W + c))), rtol=1e-12)
    assert model.get_feature_names_out().tolist() == [f"unit{k}" for k in range(6)]


@pytest.mark.parametrize("softmax", SOFTMAXES)
def test_word_distributions_are_the_next_word_given_one_unit_on(softmax):
    net = random_net(n_words=5, n_units=3, softmax=softmax)
    model = model_with(net)
    P = model.word_distributions()
    assert P.shape == (3, 5)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    with torch.no_grad():
        direct = net.word_distribution(torch.eye(3)).double().numpy()
    np.testing.assert_allclose(P, direct, rtol=1e-5)
    if softmax == "full":
        V, b = net.out_weight.detach().double().numpy(), net.out_bias.detach().double().numpy()
        logits = b[None, :] + V.T
        np.testing.assert_allclose(P, np.exp(logits) / np.exp(logits).sum(1, keepdims=True), rtol=1e-5)
        np.testing.assert_array_equal(model.unit_word(), net.out_weight.detach().numpy().T)
    else:
        with torch.no_grad():
            base = net.word_distribution(torch.zeros(1, 3)).double().numpy()
        np.testing.assert_allclose(model.unit_word(), np.log(direct) - np.log(base), rtol=1e-4, atol=1e-5)


def test_tree_softmax_trains():
    X, _ = planted_corpus(n_docs=200)
    model = small_model(softmax="tree", max_epochs=8).fit(X)
    val = [h["val_perplexity_bound"] for h in model.history_]
    assert min(val) < val[0] and model.best_val_perplexity_bound_ < 16


def test_save_load_round_trip(fitted, tmp_path):
    model, X = fitted
    path = model.save(tmp_path / "docnade")
    loaded = DocNADETopicModel.load(path)
    assert isinstance(loaded, DocNADETopicModel) and loaded.get_params()["n_units"] == 6
    np.testing.assert_array_equal(loaded.transform(X[:10]), model.transform(X[:10]))
    np.testing.assert_array_equal(loaded.log_likelihood_bound(X[:10]), model.log_likelihood_bound(X[:10]))
    np.testing.assert_array_equal(loaded.word_distributions(), model.word_distributions())
    assert loaded.vocabulary_ == model.vocabulary_ and loaded.top_words(3) == model.top_words(3)
    assert loaded.best_val_perplexity_bound_ == model.best_val_perplexity_bound_
    assert loaded.history_ == model.history_ and loaded.stopped_ == model.stopped_


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: d["state"].pop("W"), "state 'W' is not a float tensor"),
        (lambda d: d["state"].update(W=d["state"]["W"][:, :2]), "size mismatch"),
        (lambda d: d["state"].update(c=torch.full((6,), float("nan"))), "NaN"),
        (lambda d: d["config"].pop("network"), "config lacks"),
        (lambda d: d["config"]["network"].update(softmax="huffman"), "softmax must be one of"),
        (lambda d: d["config"]["params"].update(bogus=1), "unknown settings: bogus"),
        (lambda d: d["config"]["params"].update(learning_rate=-1.0), "learning_rate must be a positive"),
        (lambda d: d["state"].update(word_frequencies=torch.zeros(24, dtype=torch.float64)), "word_frequencies"),
        (lambda d: d.update(vocabulary=["a", "b"]), "vocabulary has 2 words"),
    ],
)
def test_malformed_checkpoint_gives_model_error(fitted, tmp_path, damage, message):
    model, _ = fitted
    data = load_checkpoint(model.save(tmp_path / "m.pt"))
    damage(data)
    with pytest.raises(ModelError, match=message):
        DocNADETopicModel.from_checkpoint(data)


def test_same_seed_same_model_other_seed_other_model():
    X, _ = planted_corpus(n_docs=120)
    a, b = small_model(max_epochs=2).fit(X), small_model(max_epochs=2).fit(X)
    for (name, p), q in zip(a.net_.named_parameters(), b.net_.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0, msg=name)
    c = small_model(max_epochs=2, random_state=1).fit(X)
    assert not torch.equal(a.net_.W, c.net_.W)


def test_not_fitted_before_fit():
    model = DocNADETopicModel()
    X = np.ones((2, 3))
    for call in (model.transform, model.log_likelihood_bound, model.log_likelihood_is,
                 lambda X: model.log_likelihood_completion(X, X)):
        with pytest.raises(NotFittedError):
            call(X)
    with pytest.raises(NotFittedError):
        model.word_distributions()


def test_cancel_stops_and_keeps_the_best():
    X, _ = planted_corpus(n_docs=120)
    X_val, X = X[:20], X[20:]
    seen = []

    def callback(entry):
        if "val_perplexity_bound" in entry:
            seen.append(entry)
            return len(seen) == 3

    model = small_model(max_epochs=50).fit(X, X_val=X_val, callback=callback)
    assert model.stopped_ == "cancelled" and model.n_iter_ == 3 and len(seen) == 3
    val = [e["val_perplexity_bound"] for e in seen]
    assert model.best_val_perplexity_bound_ == min(val) and model.best_epoch_ == 1 + int(np.argmin(val))
    # the kept parameters give the best figure again (validation reads each document in the
    # order drawn from [random_state, 0])
    seqs = bag_sequences(token_counts(X_val), None, np.random.default_rng([0, 0]))
    log_p = sequence_log_probs(model.net_, seqs)
    lengths = np.asarray(X_val.sum(axis=1)).ravel()
    assert np.exp(-np.mean(log_p / lengths)) == pytest.approx(min(val), rel=1e-12)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_units": 0}, "n_units must be a positive integer"),
        ({"softmax": "huffman"}, "softmax must be one of full, tree"),
        ({"learning_rate": 0.0}, "learning_rate must be a positive number"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer"),
        ({"patience": 0}, "patience must be a positive integer"),
        ({"max_seconds": -1}, "max_seconds must be positive"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
    ],
)
def test_bad_settings_are_named(params, message):
    X, _ = planted_corpus(n_docs=30)
    with pytest.raises(ModelError, match=message):
        DocNADETopicModel(**params).fit(X)


def test_counts_are_rounded_to_tokens_and_empty_documents_score_zero(fitted):
    model, _ = fitted
    X = sp.csr_matrix(np.array([[0.0] * 24, [0.4] + [0.0] * 23, [1.6] + [0.0] * 23, [2.0] + [0.0] * 23]))
    log_p = model.log_likelihood_bound(X)
    assert log_p[0] == log_p[1] == 0.0 and log_p[2] == log_p[3] < 0
    with pytest.raises(ModelError, match="observed halves"):
        model.log_likelihood_completion(X, X[:2])


def test_kind_record_matches_the_estimator():
    assert KIND.kind == DocNADETopicModel.kind == "docnade"
    assert KIND.estimator() is DocNADETopicModel
    assert [v.name for v in KIND.variants] == ["docnade"] and KIND.variants[0].label == "DocNADE"
    assert KIND.defaults()["softmax"] == "full" and KIND.budget_epochs_param in KIND.defaults()
