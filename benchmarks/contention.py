"""Does NVIL training speed hold when other processes compete for the CPUs? (issue 17)

Trains the default estimator's step on ``20news_nvdm`` (V = 2,000 words, 50 units, the default
5 samples per document, mean-field term and input dropout; minibatch ``--batch-size``, 64 as in
``throughput.py``'s headline) with 0, 1 and 2 competing CPU-bound processes (busy loops this
script starts before and stops after each level), for each thread setting:

* ``default``: the policy of :mod:`docmodel.threads` (no ``--threads``, no ``DOCMODEL_THREADS``),
  with ``OMP_WAIT_POLICY=PASSIVE`` set before torch loads, as the ``docmodel`` command does;
* ``1`` and ``all``: one thread, and one per usable CPU, set explicitly (also passive);
* ``torch`` (before this work): torch's own default count with libgomp's default spinning.

Each measurement runs in its own subprocess, since the OpenMP wait policy is read once when torch
loads. It is timed like ``throughput.py``: ``SBNTopicModel.fit`` for ``--seconds``, then the
median of the documents per second of its completed validation rounds (validation excluded).
At each level the settings are measured one after another, ``--repeats`` times in rotated order,
and each figure is the median of its repeats, so that slow drifts of a shared machine's load fall
on all of them; the load average is printed before and after.

Targets (issue 17): with one competing process the default policy reaches at least 0.9 of the
best fixed setting (``1`` or ``all``) measured in the same run, and with one or two it never
falls below 0.5 of its own figure without competitors.

    .venv/bin/python benchmarks/contention.py --json contention.json      # ~7 minutes
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from _common import ROOT, load_benchmark, write_json

SETTINGS = ("default", "1", "all", "torch")
LEVELS = (0, 1, 2)
BUSY_LOOP = "while True: pass"


def worker(setting: str, data: str, batch_size: int, seconds: float, seed: int) -> dict:
    """One measurement, in a fresh process: set the wait policy, load torch, train, report."""
    from docmodel import threads

    if setting != "torch":
        threads.prepare_process()  # before torch loads, as the docmodel command does
    import torch

    from docmodel.models.sbn.estimator import SBNTopicModel

    train, _ = load_benchmark(data)
    model = SBNTopicModel.preset("perplexity", batch_size=batch_size, max_epochs=100_000, max_seconds=seconds, patience=100_000,
                          random_state=seed)
    work = threads.sbn_step_work(batch_size, train.n_words, model.n_units, model.n_samples, model.baseline_hidden)
    n_threads = {"default": None, "1": 1, "all": threads.usable_cpus()[0], "torch": torch.get_num_threads()}[setting]
    decision = threads.decide(work, n_threads)
    model.set_params(n_threads=n_threads).fit(train.X)
    rates = [h["docs_per_second"] for h in model.history_]
    full = rates[:-1] if len(rates) > 1 else rates  # the last round may be cut by the budget
    return {"docs_per_second": statistics.median(full), "rounds": len(full), "threads": decision.n_threads,
            "reason": decision.reason, "wait_policy": os.environ.get("OMP_WAIT_POLICY", "(libgomp default: spin)")}


def measure(setting: str, args) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCMODEL_THREADS", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    cmd = [sys.executable, __file__, "--worker", setting, "--data", args.data, "--batch-size", str(args.batch_size),
           "--seconds", str(args.seconds), "--seed", str(args.seed)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def competitors(n: int) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(n)]
    time.sleep(1.0 if n else 0.0)  # let them get going
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="20news_nvdm")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seconds", type=float, default=10.0, help="training time per measurement")
    p.add_argument("--repeats", type=int, default=2, help="measurements of each setting at each level (median)")
    p.add_argument("--settings", default=",".join(SETTINGS), help=f"thread settings to measure (of {','.join(SETTINGS)})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json")
    p.add_argument("--worker", choices=SETTINGS, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.batch_size, args.seconds, args.seed)))
        return

    if args.repeats < 1 or args.seconds <= 0:
        sys.exit(f"--repeats and --seconds must be positive, got {args.repeats} and {args.seconds:g}")
    settings = [s for s in args.settings.split(",") if s]
    if not {"default", "1", "all"} <= set(settings) or not set(settings) <= set(SETTINGS):
        sys.exit(f"--settings must include default, 1 and all, from {', '.join(SETTINGS)}; got {args.settings!r}")
    load_start = os.getloadavg()
    print(f"{args.data}, minibatch {args.batch_size}, {args.seconds:g} s per measurement x {args.repeats}; "
          f"{os.cpu_count()} CPUs; "
          f"load average {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}", flush=True)
    results: dict[str, dict[int, list]] = {s: {n: [] for n in LEVELS} for s in settings}
    for n in LEVELS:
        procs = competitors(n)
        try:
            for i in range(args.repeats):
                for s in settings[i % len(settings):] + settings[: i % len(settings)]:  # a new order each time
                    r = measure(s, args)
                    results[s][n].append(r)
                    print(f"  {n} competing, {s:>7}: {r['docs_per_second']:8,.0f} docs/s with {r['threads']} "
                          f"thread(s) ({r['rounds']} rounds; load {os.getloadavg()[0]:.2f})", flush=True)
        finally:
            stop(procs)
    load_end = os.getloadavg()

    rate = {s: {n: statistics.median(r["docs_per_second"] for r in results[s][n]) for n in LEVELS} for s in settings}
    print(f"\n{'docs/s':<28}" + "".join(f"{f'{n} competing':>14}" for n in LEVELS))
    for s in settings:
        label = f"{s} ({results[s][0][0]['threads']} thread{'s' * (results[s][0][0]['threads'] != 1)})"
        print(f"{label:<28}" + "".join(f"{rate[s][n]:>14,.0f}" for n in LEVELS))
    best_fixed = max(rate["1"][1], rate["all"][1])
    vs_best = rate["default"][1] / best_fixed
    vs_quiet = {n: rate["default"][n] / rate["default"][0] for n in LEVELS[1:]}
    print(f"\nthe default policy chose: {results['default'][0][0]['reason']}")
    print(f"default / best fixed setting, 1 competing: {vs_best:.2f} (target >= 0.9: {'met' if vs_best >= 0.9 else 'NOT met'})")
    for n, v in vs_quiet.items():
        print(f"default, {n} competing / default, 0 competing: {v:.2f} (target >= 0.5: {'met' if v >= 0.5 else 'NOT met'})")
    if "torch" in rate:
        print("torch's own default / default policy: " + ", ".join(
            f"{rate['torch'][n] / rate['default'][n]:.2f} ({n} competing)" for n in LEVELS))
    print(f"load average at the end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    write_json(args.json, {
        "data": args.data, "batch_size": args.batch_size, "seconds": args.seconds, "cpus": os.cpu_count(),
        "docs_per_second": {s: {str(n): rate[s][n] for n in LEVELS} for s in settings},
        "threads": {s: results[s][0][0]["threads"] for s in settings},
        "runs": {s: {str(n): results[s][n] for n in LEVELS} for s in settings},
        "default_vs_best_fixed_1_competing": vs_best,
        "default_vs_quiet": {str(n): v for n, v in vs_quiet.items()},
        "load_average_start": load_start, "load_average_end": load_end,
    })


if __name__ == "__main__":
    main()
