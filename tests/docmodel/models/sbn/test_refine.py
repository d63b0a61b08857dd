"""q refined per document (docmodel.models.sbn.refine): the offsets' gradient estimate against the
exact gradient of the bound on enumerable models, refinement tightening an exact bound that stays
a bound, and the refined figures' independence of the documents scored alongside."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from docmodel.errors import ModelError
from docmodel.models.sbn.nvil import RunningStats
from docmodel.models.sbn.refine import offset_gradients, refine_offsets
from docmodel.models.sbn.state import Networks

from .sbn_exact import exact_elbo, exact_log_px, tiny_networks
from .test_sbn_estimator import fitted  # noqa: F401 (a fixture)

CASES = {
    "one layer": dict(layers=(4,)),
    "two layers": dict(layers=(3, 2)),
    "fDARN prior, autoregressive q": dict(layers=(4,), prior="autoregressive", inference="autoregressive"),
}


def networks(case: str) -> Networks:
    model, encoder, baselines = tiny_networks(**CASES[case])
    return Networks(model, encoder, baselines, RunningStats.initial(len(CASES[case]["layers"])))


def shifted(encoder, offsets: list[torch.Tensor]):
    """A copy of ``encoder`` whose layers' biases carry ``offsets`` (one document's, (K_l,) each):
    for one document, the same q as the offsets, with the offsets as parameters for autograd."""
    enc = copy.deepcopy(encoder)
    layers = [enc.first_output, *enc.upper]
    with torch.no_grad():
        for lin, d in zip(layers, offsets):
            lin.bias.add_(d)
    return enc, [lin.bias for lin in layers]


def document(seed: int, n_words: int = 12) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 4, (n_words,), generator=g).double()


@pytest.mark.parametrize("case", list(CASES))
def test_offset_gradient_estimate_is_unbiased_for_the_exact_gradient(case):
    """The leave-one-out score-function estimate, averaged over many samples, matches d ELBO /
    d delta computed by enumerating every latent state and differentiating (biases shifted by the
    offsets stand in for them), for two documents at once, each within 5 standard errors."""
    nets = networks(case)
    xs = torch.stack([document(1), document(2)])
    g = torch.Generator().manual_seed(3)
    offsets = [0.5 * torch.randn(2, k, generator=g, dtype=torch.float64) for k in CASES[case]["layers"]]
    S = 40_000
    with torch.no_grad():
        estimate = offset_gradients(nets, xs, offsets, S, torch.Generator().manual_seed(4))
        # The spread of one sample's term: 2-sample estimates (the mean of two terms) over
        # repeats, times sqrt(2).
        pairs = [offset_gradients(nets, xs, offsets, 2, torch.Generator().manual_seed(100 + i)) for i in range(1000)]
    for layer, est in enumerate(estimate):
        spread = torch.stack([p[layer] for p in pairs]).std(0) * np.sqrt(2)  # B,K
        for b in range(2):
            enc, biases = shifted(nets.encoder, [d[b] for d in offsets])
            exact = torch.autograd.grad(exact_elbo(nets.model, enc, xs[b]), biases)[layer]
            np.testing.assert_array_less(np.abs((est[b] - exact).numpy()), (5 * spread[b] / np.sqrt(S)).numpy() + 1e-9)
            assert torch.linalg.vector_norm(exact) > 10 * torch.linalg.vector_norm(est[b] - exact)


@pytest.mark.parametrize("case", list(CASES))
def test_refinement_tightens_the_exact_bound_and_it_stays_a_bound(case):
    nets = networks(case)
    xs = torch.stack([document(5), document(6), document(7)])
    offsets = refine_offsets(nets, xs, 60, 50, torch.Generator().manual_seed(0), 0.1)
    for b in range(3):
        before = exact_elbo(nets.model, nets.encoder, xs[b]).item()
        enc, _ = shifted(nets.encoder, [d[b] for d in offsets])
        after = exact_elbo(nets.model, enc, xs[b]).item()
        log_px = exact_log_px(nets.model, nets.encoder, xs[b]).item()
        assert before < after <= log_px + 1e-9
        assert after - before > 0.3 * (log_px - before)  # most of the gap closed, not a rounding gain


def test_zero_offsets_are_the_inference_networks_q():
    nets = networks("fDARN prior, autoregressive q")
    xs = torch.stack([document(8), document(9)])
    zeros = [torch.zeros(2, 4, dtype=torch.float64)]
    a = nets.encoder.sample(xs, 5, torch.Generator().manual_seed(1))
    b = nets.encoder.sample(xs, 5, torch.Generator().manual_seed(1), offsets=zeros)
    for left, right in zip(a[0] + a[1], b[0] + b[1]):
        assert torch.equal(left, right)
    assert all(torch.equal(d, z) for d, z in zip(refine_offsets(nets, xs, 0, 5, None, 0.1), zeros))


def test_refined_bound_is_tighter_and_each_documents_own(fitted):  # noqa: F811
    """On a trained model the refined bound is above q's own on average, and a
    document's refined figure is the same alone, among others and in another order."""
    model, X, _ = fitted
    docs = X[:60]
    plain = model.log_likelihood_bound(docs, random_state=2)
    refined = model.log_likelihood_bound(docs, random_state=2, refine_steps=30)
    assert refined.mean() > plain.mean() + 0.05
    perm = np.random.default_rng(0).permutation(60)
    np.testing.assert_allclose(model.log_likelihood_bound(docs[perm], random_state=2, refine_steps=30), refined[perm],
                               rtol=0, atol=1e-4)
    for i in (0, 41):
        alone = model.log_likelihood_bound(docs[i], random_state=2, refine_steps=30)
        np.testing.assert_allclose(alone, refined[i : i + 1], rtol=0, atol=1e-4)


def test_refinement_settings_are_checked(fitted):  # noqa: F811
    model, X, _ = fitted
    with pytest.raises(ModelError, match="refine_samples at least 2"):
        model.log_likelihood_bound(X[:3], refine_steps=5, refine_samples=1)
    with pytest.raises(ModelError, match="refine_steps must be >= 0"):
        model.log_likelihood_bound(X[:3], refine_steps=-1)


def test_evaluate_reports_the_refined_bound_apart(tmp_path, capsys):
    """``docmodel evaluate --refine-steps`` adds the refined bound beside the three figures (which
    it leaves as they are) for an SBN, and names the problem for another kind."""
    from corpora import Corpus, Dataset
    from docmodel.cli import main
    from docmodel.evaluation import evaluate
    from docmodel.models.lda.estimator import LDATopicModel

    from .test_sbn_estimator import planted_corpus

    X, vocab = planted_corpus(n_docs=200)
    ids = [f"d{i}" for i in range(200)]
    Dataset(Corpus(X[:160], vocab, ids[:160]), Corpus(X[160:], vocab, ids[160:])).save(tmp_path / "corpus")
    # q the network alone: three epochs leave it far from each document's best, room to refine.
    assert main(["train", str(tmp_path / "corpus"), "--units", "4", "--epochs", "3", "--val-docs", "20",
                 "--mean-field-steps", "0", "-o", str(tmp_path / "model")]) == 0
    for steps, name in ((0, "plain.json"), (20, "refined.json")):
        assert main(["evaluate", str(tmp_path / "model"), str(tmp_path / "corpus"), "--samples", "10",
                     "--refine-steps", str(steps), "--json", str(tmp_path / name)]) == 0
    out = capsys.readouterr().out
    assert "bound, q refined (20 steps)" in out
    plain, refined = (json.loads((tmp_path / n).read_text()) for n in ("plain.json", "refined.json"))
    assert "perplexity_bound_refined" not in plain
    assert refined["perplexity_bound"] == plain["perplexity_bound"]
    assert 1.0 < refined["perplexity_bound_refined"] < refined["perplexity_bound"]
    assert main(["evaluate", str(tmp_path / "model"), str(tmp_path / "corpus"), "--refine-steps", "-1"]) == 2
    assert "--refine-steps must be 0 or more" in capsys.readouterr().err
    lda = LDATopicModel(2, max_iter=2).fit(X)
    with pytest.raises(ModelError, match="applies to SBN models"):
        evaluate(lda, X[:5], n_samples=5, refine_steps=10)
