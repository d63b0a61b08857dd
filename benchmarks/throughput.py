"""How close NVIL training and evaluation come to what the hardware allows.

1. Counts the arithmetic and memory traffic of one NVIL training step of the default 20
   Newsgroups model (V = 2,000 words, K = 50 units, minibatch B (the estimator's automatic one and 64
   unless told), the estimator's default
   samples per document S, baseline MLP with 100 hidden units plus the linear count term and the
   mean-field term, dropout on q's input): the inference network's linear layer, the baseline
   network, the generative model's (S B, K) x (K, V) product and the softmax over the
   vocabulary, the backward pass and the Adam update.
2. Measures, in this process and with the same threads, the rate torch reaches on exactly the
   matrix products of that step, and the bandwidth of an elementwise op on tensors of the step's
   size. Floor on the time of a step = measured time of its matrix products + its other memory
   traffic / measured bandwidth. (The backward pass needs only weight gradients for the three
   large products, since their inputs are data or samples: it costs as much as the forward
   products, not twice as much.) The word layer can be computed two ways (``step_cost``'s
   ``route``: through the gradient in the logits, or through products of x and exp(a - max)
   with small matrices, which the step takes with several samples per document); the floor is
   the cheaper of the two, whichever the step takes.
3. Trains the real estimator (``SBNTopicModel.fit``, the training loop of ``docmodel.models.sbn.training``)
   on ``20news_nvdm`` for ``--seconds`` and reports documents per second next to the floor; the
   same run also times the step as it was before this work (scipy rows to dense, autograd
   through ``logsumexp``, multi-tensor Adam, ``clip_grad_norm_``) against the step now, in
   alternating slices, to say what the fast path gains.
4. Times inference on 10,000 documents (``transform`` and the 10-sample bound perplexity) and
   the 100-sample importance-sampled and document-completion estimates on the test set.

Timings on a shared machine are noisy: the load average is printed with the figures, and ratios
are measured within one run.

    .venv/bin/python benchmarks/throughput.py                   # ~2 minutes
    .venv/bin/python benchmarks/throughput.py --batch-sizes 64,256,1024 --json out.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from _common import load_benchmark, table, write_json

# Share of the floor the default step must reach, by threads, the two-thread one for more (more
# threads: a smaller floor, and a larger share of the step's many small operations is overhead
# that does not shrink).
TARGET_RATIO = {1: 0.5, 2: 0.35}


def step_route(n_samples: int) -> str:
    """The route of the word layer a training step takes (``docmodel.models.likelihood``)."""
    from docmodel.models.likelihood import PRODUCTS_MIN_SAMPLES

    return "products" if n_samples >= PRODUCTS_MIN_SAMPLES else "logits"


def step_cost(B: int, V: int, K: int, H: int, ema: bool = True, n_samples: int = 1, mean_field: bool = True,
              dropout: bool = False, route: str | None = None) -> dict:
    """Arithmetic and memory traffic of one NVIL step of a one-layer model.

    ``n_samples`` samples h per document (S); ``mean_field``: the baseline's term
    log p(x | h = E_q[h]) (one more q and one more p(x|h) forward per document, no backward);
    ``dropout``: a mask on q's input; ``ema``: the estimator's default parameter average is
    updated after every step. ``route``: how the word layer's likelihood and its gradient are
    computed (``docmodel.models.likelihood``): "logits" forms the gradient in the (S, B, V)
    logits and multiplies it by h; "products" (taken with several samples per document) gets
    x . a and the gradient from products of x and of exp(a - max) with small matrices, with no
    pass over the logits beyond the log-sum-exp. None: the route the step takes.

    Returns a dict with ``matmuls`` (list of (name, (m, k, n)) products of an (m, k) by a (k, n)
    matrix), ``matmul_flops``, ``elementwise_bytes`` (float32 traffic of everything else,
    counted once per necessary pass), ``elementwise_flops`` and ``n_params``.
    """
    SB = n_samples * B
    route = route or step_route(n_samples)
    matmuls = [
        # forward
        ("q(h|x): features @ W_q^T", (B, V, K)),
        ("baseline: features @ W_1^T", (B, V, H)),
        ("baseline: hidden @ w_2", (B, H, 1)),
        ("p(x|h): h @ U^T", (SB, K, V)),
        # backward: weight gradients (inputs are data or samples, so no input gradients)
        ("dW_q = g^T features", (K, B, V)),
        ("dW_1 = g^T features", (H, B, V)),
        ("dw_2, d hidden", (H, B, 1)),
        ("d hidden = g w_2^T", (B, 1, H)),
    ]
    if route == "products":
        matmuls += [
            ("x . a = (x U) . h + x . b: x @ U", (B, V, K)),
            ("dU, db: e^T (c h, c), c = g L / s", (V, SB, K + 1)),
            ("dU, db: x^T (sum_s g_s h_s, sum_s g_s)", (V, B, K + 1)),
        ]
    else:
        matmuls += [("dU = g_a^T h", (V, SB, K))]
    if mean_field:
        matmuls += [("mean-field term: features @ W_q^T", (B, V, K)), ("mean-field term: E_q[h] @ U^T", (B, K, V))]
    flops = sum(2 * m * k * n for _, (m, k, n) in matmuls)
    n_params = (V * K + K) + (V * H + H + H + 1 + V) + (V * K + V + K)
    n_averaged = (V * K + K) + (V * K + V + K)
    BV, SBV = B * V, SB * V
    # Passes over the (B, V) or (S, B, V) logits: x . a, then max, exp(a - max) in place, sum.
    n_logits = SBV + (BV if mean_field else 0)
    # The logits whose x . a is a pass over them (the products route takes it from x @ U).
    n_dot = n_logits if route == "logits" else (BV if mean_field else 0)
    passes = {
        # forward: centred log counts, count term x . c, x . a, max, exp(a - max) in place, sum
        "features": (2 * BV, 8 * BV),
        "input dropout": (2 * BV, 12 * BV) if dropout else (0, 0),
        "count term": (2 * BV, 4 * BV),
        "x . a": (2 * n_dot, 8 * n_dot),
        "log-sum-exp": (3 * n_logits, 16 * n_logits),
        # backward (logits route): g x - (g L / s) e, bias gradient
        "softmax gradient": (3 * SBV, 12 * SBV) if route == "logits" else (0, 0),
        "bias gradient": (SBV, 4 * SBV) if route == "logits" else (0, 0),
        # Adam reads p, g, m, v and writes p, m, v; the gradient norm reads g
        "adam + grad norm": (14 * n_params, 32 * n_params),
        # the average of the model's and inference network's parameters: read p and a, write a
        "parameter average": (3 * n_averaged, 12 * n_averaged) if ema else (0, 0),
    }
    return {
        "route": route,
        "matmuls": matmuls,
        "matmul_flops": flops,
        "elementwise_flops": sum(f for f, _ in passes.values()),
        "elementwise_bytes": sum(b for _, b in passes.values()),
        "n_params": n_params,
    }


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _best_time(fn, device, repeat: int, inner: int) -> float:
    fn()
    _sync(device)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        _sync(device)
        best = min(best, (time.perf_counter() - t) / inner)
    return best


def measure_machine(cost: dict, device, repeat: int = 7) -> dict:
    """Time the step's matrix products and an elementwise op of the step's size."""
    import torch

    mats = [(torch.rand(m, k, device=device), torch.rand(k, n, device=device)) for _, (m, k, n) in cost["matmuls"]]

    def products():
        for a, b in mats:
            torch.mm(a, b)

    matmul_seconds = _best_time(products, device, repeat, 20)
    n = cost["n_params"]
    a, b, c = (torch.rand(n, device=device) for _ in range(3))
    add_seconds = _best_time(lambda: torch.add(a, b, out=c), device, repeat, 50)
    big = torch.rand(1024, 1024, device=device)
    big_seconds = _best_time(lambda: torch.mm(big, big), device, 3, 3)
    return {
        "matmul_seconds_per_step": matmul_seconds,
        "matmul_gflops": cost["matmul_flops"] / matmul_seconds / 1e9,
        "bandwidth_gbs": 12 * n / add_seconds / 1e9,
        "matmul_gflops_1024": 2 * 1024**3 / big_seconds / 1e9,
    }


def floor_seconds(cost: dict, machine: dict) -> float:
    return machine["matmul_seconds_per_step"] + cost["elementwise_bytes"] / (machine["bandwidth_gbs"] * 1e9)


def route_costs(B: int, V: int, defaults) -> dict:
    """The step's cost by each route of the word layer (see :func:`step_cost`)."""
    return {route: step_cost(B, V, 50, 100, n_samples=defaults.n_samples, mean_field=defaults.mean_field_baseline,
                             dropout=defaults.encoder_dropout > 0, route=route) for route in ("logits", "products")}


def measure_floor(costs: dict, device, repeat: int = 7) -> tuple[float, dict]:
    """The floor of a step: the cheaper of its routes, each measured now. Returns the floor in
    seconds and the machine's rates measured for the route that gives it."""
    measured = []
    for cost in costs.values():
        machine = measure_machine(cost, device, repeat)
        measured.append((floor_seconds(cost, machine), machine))
    return min(measured, key=lambda floor_and_machine: floor_and_machine[0])


def train_rate(X, batch_size: int, seconds: float, device: str, seed: int, costs: dict) -> tuple[dict, object]:
    """Documents per second of the real training loop, with the floor measured after every epoch.

    The load of a shared machine drifts, so the machine's rates are measured again right after
    each epoch (outside the epoch's timing) and each epoch's rate is compared with the floor
    measured next to it. Returns medians over the completed epochs (validation excluded).
    """
    from docmodel.base import is_validation
    from docmodel.models.sbn.estimator import SBNTopicModel, resolve_device

    dev = resolve_device(device)
    floors = []

    def measure(metrics):
        if is_validation(metrics):  # one floor per history entry (not per progress report)
            floors.append(measure_floor(costs, dev, repeat=3)[0])

    model = SBNTopicModel.preset(
        "perplexity", n_units=50, batch_size=batch_size, max_epochs=100000, max_seconds=seconds, patience=100000,
        random_state=seed, device=device,
    )
    model.fit(X, callback=measure)
    epochs = list(zip([h["docs_per_second"] for h in model.history_], floors))
    full = epochs[:-1] if len(epochs) > 1 else epochs  # the last epoch may be cut by the budget
    return {
        "docs_per_second": statistics.median(r for r, _ in full),
        "floor_docs_per_second": statistics.median(batch_size / f for _, f in full),
        "ratio": statistics.median(r * f / batch_size for r, f in full),
        "epochs_measured": len(full),
    }, model


def step_ab(X, batch_size: int, seconds: float, seed: int) -> dict:
    """Documents per second of the step as it was (scipy rows to dense, autograd through
    ``logsumexp``, multi-tensor Adam, ``clip_grad_norm_``, two host syncs) against the step as
    ``docmodel.models.sbn.training`` takes it now, alternating 100-step slices of each so that both see
    the same load; CPU."""
    import numpy as np
    import scipy.sparse as sp
    import torch

    from docmodel.models.batching import CSRRows
    from docmodel.models.sbn.networks import SBN, Baselines, InferenceNetwork, SBNConfig
    from docmodel.models.sbn.nvil import RunningStats, nvil_estimate
    from docmodel.models.sbn.state import Networks, ParameterAverage

    class PlainSBN(SBN):
        def log_p_x_given_h1(self, x, h1):
            a = self.visible(h1)
            return (a * x).sum(-1) - x.sum(-1) * torch.logsumexp(a, dim=-1)

    X = sp.csr_matrix(X, dtype=np.float32)
    rows_of = CSRRows(X)
    order = np.random.default_rng(seed).permutation(X.shape[0])
    n_batches = X.shape[0] // batch_size

    def variant(plain: bool) -> dict:
        torch.manual_seed(seed)
        config = SBNConfig(n_words=X.shape[1], layers=(50,))
        nets = Networks((PlainSBN if plain else SBN)(config), InferenceNetwork(config), Baselines(config),
                        RunningStats.initial(1))
        params = [p for m in (nets.model, nets.encoder, nets.baselines) for p in m.parameters()]
        opt = torch.optim.Adam(params, lr=3e-3, **({"foreach": True} if plain else {"fused": True}))
        return {"plain": plain, "nets": nets, "params": params, "opt": opt, "step": 0, "docs": 0, "seconds": 0.0,
                "ema": ParameterAverage(nets, 0.999), "gen": torch.Generator().manual_seed(seed)}

    def run(v: dict, n_steps: int) -> None:
        nets, params, opt = v["nets"], v["params"], v["opt"]
        t = time.perf_counter()
        for _ in range(n_steps):
            batch = order[(v["step"] % n_batches) * batch_size :][:batch_size]
            x = torch.from_numpy(X[batch].toarray()) if v["plain"] else rows_of.rows(batch)
            out = nvil_estimate(nets.model, nets.encoder, nets.baselines, x, nets.stats, n_samples=1, generator=v["gen"])
            loss = out.surrogate + out.baseline_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if v["plain"]:
                norm = torch.nn.utils.clip_grad_norm_(params, 1e4)
                if not (torch.isfinite(loss) and torch.isfinite(norm)):
                    continue
            else:
                norm = torch.nn.utils.get_total_norm([p.grad for p in params])
                torch.stack([loss.detach(), norm]).tolist()
            opt.step()
            v["step"] += 1
            v["ema"].update(v["step"])
            nets.stats = out.stats
            if v["plain"]:
                float(out.elbo.mean(0).sum())
            v["docs"] += len(batch)
        v["seconds"] += time.perf_counter() - t

    plain, fast = variant(True), variant(False)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        run(plain, 100)
        run(fast, 100)
    return {"plain_docs_per_second": plain["docs"] / plain["seconds"], "fast_docs_per_second": fast["docs"] / fast["seconds"]}


def plain_bound_seconds(model, X) -> float:
    """The 10-sample bound as it was computed before: all (S, B, V) logits of a batch at once."""
    import numpy as np
    import torch

    nets, gen = model.nets_, torch.Generator().manual_seed(0)
    t = time.perf_counter()
    with torch.no_grad():
        for start in range(0, X.shape[0], 838):
            x = torch.from_numpy(X[np.arange(start, min(start + 838, X.shape[0]))].toarray()).float()
            hs, log_qs = nets.encoder.sample(x, 10, gen, model=nets.model)
            a = nets.model.visible(hs[0])
            (a * x).sum(-1) - x.sum(-1) * torch.logsumexp(a, dim=-1)
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="20news_nvdm")
    p.add_argument("--seconds", type=float, default=20.0, help="training time per measurement")
    p.add_argument("--batch-sizes", default="auto,64",
                   help="comma-separated minibatch sizes, 'auto' the estimator's automatic one (512 on 20news_nvdm); "
                        "the first is the headline")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--no-reference", action="store_true", help="skip the plain reference step and bound")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json")
    args = p.parse_args()

    import numpy as np
    import torch

    from docmodel.evaluation import perplexity
    from docmodel.models.batching import auto_batch_size
    from docmodel.models.sbn.estimator import SBNTopicModel, resolve_device

    torch.set_num_threads(args.threads)

    os.environ["DOCMODEL_THREADS"] = str(args.threads)  # fit follows it (docmodel.threads)
    defaults = SBNTopicModel.preset("perplexity")  # the step counted: the paper's model's default step
    device = resolve_device(args.device)
    train, test = load_benchmark(args.data)
    V = train.n_words
    load = os.getloadavg()
    print(f"{args.data}: {train.n_docs} training documents, {V} words; device {device}, {args.threads} threads; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")

    rows, result = [], {"data": args.data, "device": str(device), "threads": args.threads, "load_average_start": load}
    headline = None
    sizes = [auto_batch_size(train.n_docs) if b.strip() == "auto" else int(b) for b in args.batch_sizes.split(",")]
    for i, B in enumerate(sizes):
        costs = route_costs(B, V, defaults)
        cost = costs[step_route(defaults.n_samples)]
        machine = measure_floor(costs, device)[1]
        rates, model = train_rate(train.X, B, args.seconds if i == 0 else args.seconds / 2, args.device, args.seed, costs)
        row = {
            "batch_size": B,
            "gflop_per_step": (cost["matmul_flops"] + cost["elementwise_flops"]) / 1e9,
            "mb_per_step": cost["elementwise_bytes"] / 1e6,
            "matmul_gflops": machine["matmul_gflops"],
            "bandwidth_gbs": machine["bandwidth_gbs"],
            **rates,
            "floor_seconds_per_epoch": train.n_docs / rates["floor_docs_per_second"],
        }
        rows.append(row)
        if headline is None:
            headline, headline_model, headline_machine = row, model, machine
    print()
    print(table(rows, [
        ("batch_size", "minibatch", "d"), ("gflop_per_step", "GFLOP/step", ".3f"), ("mb_per_step", "MB/step", ".1f"),
        ("matmul_gflops", "matmul GFLOP/s", ".1f"), ("bandwidth_gbs", "GB/s", ".1f"),
        ("floor_docs_per_second", "floor docs/s", ",.0f"), ("docs_per_second", "docs/s", ",.0f"), ("ratio", "of floor", ".2f"),
    ]))
    print(f"(reference: one 1024x1024 matmul runs at {headline_machine['matmul_gflops_1024']:.1f} GFLOP/s here)")
    result.update({k: headline[k] for k in headline})
    result["by_batch_size"] = rows
    target = TARGET_RATIO.get(args.threads, TARGET_RATIO[2])
    result["target_ratio"] = target

    if not args.no_reference and device.type == "cpu":
        ab = step_ab(train.X, headline["batch_size"], args.seconds, args.seed)
        result.update(ab)
        result["step_speedup"] = ab["fast_docs_per_second"] / ab["plain_docs_per_second"]
        print(f"\nstep before (scipy rows, autograd logsumexp, multi-tensor Adam) against now, alternating "
              f"100-step slices: {ab['plain_docs_per_second']:,.0f} vs {ab['fast_docs_per_second']:,.0f} docs/s, "
              f"{result['step_speedup']:.2f}x")

    X10k = train.X[:10000]
    model = headline_model
    t = time.perf_counter()
    model.transform(X10k)
    result["transform_seconds_10k"] = time.perf_counter() - t
    t = time.perf_counter()
    result["bound_perplexity_10k"] = perplexity(model, X10k, estimator="bound")
    result["bound_seconds_10k"] = time.perf_counter() - t
    print(f"\ninference on {X10k.shape[0]:,} documents: transform {result['transform_seconds_10k']:.3f}s, "
          f"bound perplexity (10 samples) {result['bound_seconds_10k']:.3f}s")
    if not args.no_reference and device.type == "cpu":
        plain = plain_bound_seconds(model, X10k)
        result["plain_bound_seconds_10k"] = plain
        print(f"  the bound as before (all S x B x V logits of a batch at once): {plain:.3f}s "
              f"({plain / result['bound_seconds_10k']:.2f}x slower)")
    for estimator in ("is", "completion"):
        t = time.perf_counter()
        result[f"perplexity_{estimator}_test"] = perplexity(model, test.X, estimator=estimator)
        result[f"{estimator}_seconds_test"] = time.perf_counter() - t
    print(f"100-sample estimates on the {test.n_docs:,} test documents: importance sampled "
          f"{result['is_seconds_test']:.2f}s, document completion {result['completion_seconds_test']:.2f}s")
    result["load_average_end"] = os.getloadavg()
    ok = headline["ratio"] >= target
    print(f"\nheadline (minibatch {headline['batch_size']}): {headline['docs_per_second']:,.0f} docs/s = "
          f"{headline['ratio']:.2f} of the floor {headline['floor_docs_per_second']:,.0f} docs/s "
          f"(target with {args.threads} thread(s) >= {target}: {'met' if ok else 'NOT met'}); load average at the end "
          f"{result['load_average_end'][0]:.2f}")
    write_json(args.json, {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in result.items()})


if __name__ == "__main__":
    main()
