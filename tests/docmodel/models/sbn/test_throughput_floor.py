"""The fast paths behind the throughput figures compute the same numbers as the plain ones, and
the arithmetic the throughput floor counts is the arithmetic a training step performs."""

from __future__ import annotations

import importlib
import sys

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import docmodel.models.likelihood as likelihood
from docmodel.models.likelihood import word_log_likelihood
from docmodel.models.sbn.networks import SBN, Baselines, InferenceNetwork, SBNConfig
from docmodel.models.sbn.nvil import RunningStats, VarianceReduction, nvil_estimate
from tests.conftest import ROOT


def _plain(x, h, weight, bias):
    a = F.linear(h, weight, bias)
    return (a * x).sum(-1) - x.sum(-1) * torch.logsumexp(a, dim=-1)


def _case(S=3, B=5, V=40, K=6, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 4, (B, V), generator=g).to(dtype)
    h = (torch.rand(S, B, K, generator=g) < 0.5).to(dtype)
    weight = torch.randn(V, K, generator=g, dtype=dtype).requires_grad_()
    bias = torch.randn(V, generator=g, dtype=dtype).requires_grad_()
    return x, h, weight, bias


@pytest.mark.parametrize("S,route", [(1, "_WordLogLikelihood"), (3, "_ChunkedWordLogLikelihood")])
def test_fused_word_likelihood_value_and_gradient_match_autograd(S, route):
    # One sample per document takes the logits route, several the products route.
    x, h, weight, bias = _case(S=S)
    g = torch.randn(S, 5, dtype=torch.float64)
    plain = _plain(x, h, weight, bias)
    fused = word_log_likelihood(x, h, weight, bias)
    assert type(fused.grad_fn).__name__ == route + "Backward"
    torch.testing.assert_close(fused, plain, rtol=1e-12, atol=1e-12)
    expected = torch.autograd.grad((plain * g).sum(), (weight, bias))
    got = torch.autograd.grad((fused * g).sum(), (weight, bias))
    for e, a in zip(expected, got):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(lambda w, b: word_log_likelihood(x, h, w, b), (weight, bias))


@pytest.mark.parametrize("S", [1, 3])
def test_gradients_for_relaxed_units_take_the_fused_route_and_match_autograd(S):
    x, h, weight, bias = _case(S=S)
    h = h.clone().requires_grad_()
    out = word_log_likelihood(x, h, weight, bias)
    assert "WordLogLikelihood" in type(out.grad_fn).__name__
    (grad_h,) = torch.autograd.grad(out.sum(), h)
    (expected,) = torch.autograd.grad(_plain(x, h, weight, bias).sum(), h)
    torch.testing.assert_close(grad_h, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunk", [1, 700, 10**9])
def test_training_blocks_give_the_same_value_and_gradients(monkeypatch, chunk):
    # chunk=1: one row of logits per block; 700: blocks that split a sample's documents;
    # 10**9: all rows at once. The blocks only change how long each stays in cache.
    monkeypatch.setitem(likelihood.TRAIN_CHUNK_ELEMENTS, "cpu", chunk)
    x, h, weight, bias = _case(S=4, B=7, V=300, K=8)
    g = torch.randn(4, 7, dtype=torch.float64)
    out = word_log_likelihood(x, h, weight, bias)
    torch.testing.assert_close(out, _plain(x, h, weight, bias), rtol=1e-12, atol=1e-10)
    got = torch.autograd.grad((out * g).sum(), (weight, bias))
    expected = torch.autograd.grad((_plain(x, h, weight, bias) * g).sum(), (weight, bias))
    for e, a in zip(expected, got):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("S", [1, 10, 20])
@pytest.mark.parametrize("chunk", [1, 100, 10**9])
def test_chunked_evaluation_matches_to_float32_rounding(monkeypatch, S, chunk):
    # chunk=1: one document per chunk; 100: several; 10**9: everything at once. S=20 takes the
    # (x U) . h route for x . a.
    monkeypatch.setitem(likelihood.EVAL_CHUNK_ELEMENTS, "cpu", chunk)
    x, h, weight, bias = _case(S=S, B=7, V=300, K=8, dtype=torch.float32)
    with torch.no_grad():
        got = word_log_likelihood(x, h, weight, bias)
        expected = _plain(x.double(), h.double(), weight.double(), bias.double())
    assert got.shape == (S, 7)
    torch.testing.assert_close(got.double(), expected, rtol=2e-6, atol=1e-4)


def test_features_are_reused_only_for_the_same_unchanged_minibatch():
    encoder = InferenceNetwork(SBNConfig(n_words=6))
    x = torch.rand(3, 6)
    first = encoder.features(x)
    assert encoder.features(x) is first
    x.mul_(2.0)  # an in-place change bumps the version counter
    torch.testing.assert_close(encoder.features(x), torch.log1p(x) - encoder.input_mean)
    with torch.no_grad():
        encoder.input_mean.fill_(0.5)
    torch.testing.assert_close(encoder.features(x), torch.log1p(x) - 0.5)
    y = x.clone()
    torch.testing.assert_close(encoder.features(y), torch.log1p(y) - 0.5)


@pytest.mark.parametrize("n_samples,mean_field", [(1, True), (3, True), (2, False)])
def test_floor_counts_the_products_a_step_performs(n_samples, mean_field):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    throughput = importlib.import_module("throughput")
    B, V, K, H = 8, 40, 5, 7
    config = SBNConfig(n_words=V, layers=(K,), baseline_hidden=H)
    model, encoder, baselines = SBN(config), InferenceNetwork(config), Baselines(config)
    x = torch.randint(0, 3, (B, V)).float()
    stats = RunningStats.initial(1)
    with FlopCounterMode(display=False) as counter:
        vr = VarianceReduction(mean_field_term=mean_field)
        out = nvil_estimate(model, encoder, baselines, x, stats, vr, n_samples, torch.Generator().manual_seed(0), 0.2)
        (out.surrogate + out.baseline_loss).backward()
    counted = counter.get_total_flops()
    cost = throughput.step_cost(B, V, K, H, n_samples=n_samples, mean_field=mean_field, dropout=True)
    # torch counts matrix-matrix products; the count term x . c is a matrix-vector product
    # (forward and backward), which the floor books as memory traffic.
    assert counted == cost["matmul_flops"]
