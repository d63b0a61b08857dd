"""Does ``torch.compile`` pay for the NVIL training step? Eager against compiled, same run.

Builds two copies of the default SBN-50 (same seed) on ``20news_nvdm`` and trains each with the
estimator's default step (five samples per document, mean-field baseline term, 20% of the words
dropped from q's view, fused Adam): the eager ``nvil_estimate`` and ``torch.compile(nvil_estimate)``
(TorchInductor, default mode). The compiled copy's first steps, which compile, are timed on their
own; then the two alternate 20-step slices for ``--seconds`` so that both see the same load, and
the script prints documents per second of each and their ratio.

    .venv/bin/python benchmarks/compile_step.py --threads 1 --batch-size 512
    .venv/bin/python benchmarks/compile_step.py --device cuda --batch-size 4096
"""

from __future__ import annotations

import argparse
import os
import time

from _common import load_benchmark, write_json


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="20news_nvdm")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--seconds", type=float, default=20.0, help="alternating slices, both variants together")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json")
    args = p.parse_args()

    import numpy as np
    import torch

    from docmodel.models.batching import CSRRows
    from docmodel.models.sbn.estimator import SBNTopicModel, resolve_device
    from docmodel.models.sbn.networks import SBN, Baselines, InferenceNetwork, SBNConfig
    from docmodel.models.sbn.nvil import RunningStats, nvil_estimate

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    defaults = SBNTopicModel.preset("perplexity")
    train, _ = load_benchmark(args.data)
    rows_of = CSRRows(train.X, device)
    B = args.batch_size
    order = np.random.default_rng(args.seed).permutation(train.n_docs)
    n_batches = train.n_docs // B

    def variant(compiled: bool) -> dict:
        torch.manual_seed(args.seed)
        config = SBNConfig(n_words=train.n_words, layers=(50,))
        nets = [SBN(config).to(device), InferenceNetwork(config).to(device), Baselines(config).to(device)]
        params = [q for net in nets for q in net.parameters()]
        return {"nets": nets, "opt": torch.optim.Adam(params, lr=defaults.learning_rate, fused=True),
                "estimate": torch.compile(nvil_estimate) if compiled else nvil_estimate,
                "stats": RunningStats.initial(1), "gen": torch.Generator(device=device).manual_seed(args.seed),
                "step": 0, "docs": 0, "seconds": 0.0}

    def run(v: dict, n_steps: int) -> None:
        start = time.perf_counter()
        for _ in range(n_steps):
            x = rows_of.rows(order[(v["step"] % n_batches) * B :][:B])
            out = v["estimate"](*v["nets"], x, v["stats"], n_samples=defaults.n_samples, generator=v["gen"],
                                encoder_dropout=defaults.encoder_dropout,
                                encoder_dropout_words=defaults.encoder_dropout_words)
            v["opt"].zero_grad(set_to_none=True)
            (out.surrogate + out.baseline_loss).backward()
            v["opt"].step()
            v["stats"], v["step"], v["docs"] = out.stats, v["step"] + 1, v["docs"] + B
        if device.type == "cuda":
            torch.cuda.synchronize()
        v["seconds"] += time.perf_counter() - start

    load = os.getloadavg()
    print(f"{args.data}: minibatch {B}, device {device}, {args.threads} threads; load average {load[0]:.2f}")
    eager, compiled = variant(False), variant(True)
    t = time.perf_counter()
    run(compiled, 3)
    compile_seconds = time.perf_counter() - t
    print(f"compiling (the first 3 steps of the compiled copy): {compile_seconds:.1f} s")
    run(eager, 3)
    for v in (eager, compiled):
        v["docs"], v["seconds"] = 0, 0.0
    t = time.perf_counter()
    while time.perf_counter() - t < args.seconds:
        run(eager, 20)
        run(compiled, 20)
    result = {
        "batch_size": B, "device": str(device), "threads": args.threads, "compile_seconds": compile_seconds,
        "eager_docs_per_second": eager["docs"] / eager["seconds"],
        "compiled_docs_per_second": compiled["docs"] / compiled["seconds"],
        "load_average": [load[0], os.getloadavg()[0]],
    }
    result["speedup"] = result["compiled_docs_per_second"] / result["eager_docs_per_second"]
    print(f"eager {result['eager_docs_per_second']:,.0f} docs/s, compiled {result['compiled_docs_per_second']:,.0f} "
          f"docs/s: compiled / eager = {result['speedup']:.2f}; load average at the end {result['load_average'][1]:.2f}")
    write_json(args.json, result)


if __name__ == "__main__":
    main()
