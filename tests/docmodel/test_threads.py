"""The thread policy (docmodel.threads): usable CPUs from affinity and cgroup files, the work
rule, the override order, the app's shares, and that a run applies and logs its choice."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from argparse import Namespace

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from app import runner
from corpora.errors import CorpusError
from docmodel import threads
from docmodel.cli import build_parser
from docmodel.cli_commands.train import build_model
from docmodel.errors import ModelError
from docmodel.models.sbn.estimator import SBNTopicModel

W = threads.WORK_PER_OVERHEAD


def cgroup_tree(root, cgroup_lines: str, files: dict[str, str]):
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "self" / "cgroup").write_text(cgroup_lines)
    for path, text in files.items():
        (root / "sys" / "fs" / "cgroup" / path).parent.mkdir(parents=True, exist_ok=True)
        (root / "sys" / "fs" / "cgroup" / path).write_text(text)
    return root


@pytest.fixture
def cpus(monkeypatch):
    """Set the affinity mask's size."""
    def set_cpus(n):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)), raising=False)
    return set_cpus


def test_cgroup_v2_takes_the_tightest_quota_of_the_cgroup_and_its_ancestors(tmp_path):
    root = cgroup_tree(tmp_path, "0::/jobs/mine\n", {
        "cpu.max": "max 100000\n", "jobs/cpu.max": "300000 100000\n", "jobs/mine/cpu.max": "150000 100000\n",
    })
    assert threads.cgroup_cpu_limit(root) == 1.5


def test_cgroup_v2_in_its_own_namespace_reads_the_mount(tmp_path):
    # A container with its own cgroup namespace shows "/" and its limit at the mount itself.
    assert threads.cgroup_cpu_limit(cgroup_tree(tmp_path, "0::/\n", {"cpu.max": "200000 100000\n"})) == 2.0


def test_cgroup_v1_quota(tmp_path):
    root = cgroup_tree(tmp_path, "5:memory:/x\n4:cpu,cpuacct:/docker/abc\n", {
        "cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "250000\n", "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
        "cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n",
    })
    assert threads.cgroup_cpu_limit(root) == 2.5


@pytest.mark.parametrize("lines, files", [
    ("", {}),  # no cgroup information at all
    ("0::/\n", {"cpu.max": "max 100000\n"}),  # v2, no limit
    ("4:cpu:/\n", {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}),  # v1, no limit
    ("0::/\n", {"cpu.max": "garbage\n"}),
])
def test_no_quota(tmp_path, lines, files):
    assert threads.cgroup_cpu_limit(cgroup_tree(tmp_path, lines, files)) is None


def test_usable_cpus_and_budget(tmp_path, cpus):
    cpus(8)
    none = cgroup_tree(tmp_path / "a", "0::/\n", {})
    assert threads.usable_cpus(none, environ={}) == (8, "8 CPUs in the affinity mask")
    assert threads.cpu_budget(none, environ={})[0] == 7  # one kept free for the rest of the machine
    quota = cgroup_tree(tmp_path / "b", "0::/\n", {"cpu.max": "250000 100000\n"})
    n, why = threads.usable_cpus(quota, environ={})
    assert n == 2 and "cgroup quota of 2.5 CPUs" in why  # rounded down: a team over quota is throttled
    assert threads.usable_cpus(none, environ={"OMP_NUM_THREADS": "3"}) == (3, "8 CPUs in the affinity mask, OMP_NUM_THREADS=3")
    assert threads.usable_cpus(none, environ={"OMP_NUM_THREADS": "16"})[0] == 8  # a cap, never a raise
    cpus(2)
    assert threads.cpu_budget(none, environ={})[0] == 1
    cpus(1)
    assert threads.cpu_budget(none, environ={}) == (1, "1 CPU in the affinity mask")


def test_hyperthreads_count_as_their_core(tmp_path, cpus):
    cpus(4)
    root = cgroup_tree(tmp_path, "0::/\n", {})
    for cpu, core in enumerate((0, 0, 1, 1)):  # two cores with two hyperthreads each
        topology = root / "sys" / "devices" / "system" / "cpu" / f"cpu{cpu}" / "topology"
        topology.mkdir(parents=True)
        (topology / "core_id").write_text(f"{core}\n")
        (topology / "physical_package_id").write_text("0\n")
    assert threads.usable_cpus(root, environ={}) == (2, "4 CPUs in the affinity mask on 2 cores")


def test_work_rule():
    assert [threads.work_threads(w) for w in (0, 1.9 * W, 2 * W, 5.9 * W, 6 * W, 12 * W, 20 * W)] == [1, 1, 2, 2, 3, 4, 5]
    # The default step on 20 Newsgroups (V = 2,000, K = 50, 5 samples, 100 baseline units):
    step = [threads.sbn_step_work(b, 2000, 50, 5, 100) for b in (64, 512)]
    assert step == [64 * 2000 * 900.0, 512 * 2000 * 900.0]
    assert [threads.work_threads(w) for w in step] == [2, 6]


def test_policy_takes_the_smaller_of_budget_and_work():
    assert threads.decide(20 * W, environ={}, budget=(3, "b")).n_threads == 3
    small = threads.decide(1.0 * W, environ={}, budget=(3, "b"))
    assert small.n_threads == 1 and small.from_policy and "gains from up to 1" in small.reason
    gpu = threads.decide(0.0, environ={}, budget=(3, "b"))  # the estimator passes 0 for a GPU run
    assert gpu.n_threads == 1 and gpu.reason == "b; the step's arithmetic is not on the CPU"


def test_override_order():
    env = {threads.ENV: "3"}
    assert threads.decide(0, 5, environ=env, budget=(1, "b")) == threads.Decision(5, "n_threads=5 given", False)
    assert threads.decide(0, environ=env, budget=(1, "b")) == threads.Decision(3, "DOCMODEL_THREADS=3", False)
    assert threads.decide(0, environ={threads.ENV: " "}, budget=(1, "b")).from_policy  # blank: unset


@pytest.mark.parametrize("n_threads, env, message", [
    (0, {}, "n_threads must be a positive integer or None, got 0"),
    (1.5, {}, "got 1.5"),
    ("2", {}, "got '2'"),
    (None, {threads.ENV: "all"}, "DOCMODEL_THREADS must be a positive integer, got 'all'"),
    (None, {threads.ENV: "-1"}, "got '-1'"),
])
def test_bad_counts_are_refused(n_threads, env, message):
    with pytest.raises(ModelError, match=message):
        threads.decide(0, n_threads, environ=env, budget=(1, "b"))


def test_shares():
    assert threads.shares(7, 1) == [7]
    assert threads.shares(7, 2) == [4, 3]
    assert threads.shares(7, 3) == [3, 2, 2]
    assert threads.shares(1, 4) == [1, 1, 1, 1]  # more jobs than CPUs: one each


def test_training_applies_logs_once_and_restores(caplog):
    caplog.set_level(logging.INFO, logger="docmodel.threads")
    torch.set_num_threads(1)
    with threads.job_share(2, "two"), threads.training(20 * W) as decision:
        assert decision.n_threads == torch.get_num_threads() == 2
        assert threads.rebalance(1) == 1 and torch.get_num_threads() == 1  # the policy's run follows its share
    assert torch.get_num_threads() == 1
    with threads.job_share(2, "two"), threads.training(20 * W):  # a run inside another gives the outer one back
        with threads.training(20 * W, n_threads=1, what="scoring"):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2 and threads.rebalance(1) == 1
    with threads.training(20 * W, n_threads=2):
        assert threads.rebalance(1) is None and torch.get_num_threads() == 2  # an explicit count stays
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "training with 2 intra-op threads: two; a step of 500M multiply-adds gains from up to 5",
        "training with 2 intra-op threads: two; a step of 500M multiply-adds gains from up to 5",
        "scoring with 1 intra-op thread: n_threads=1 given",
        "training with 2 intra-op threads: n_threads=2 given",
    ]


def test_fit_applies_the_count_and_logs_it(caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="docmodel.threads")
    X = sp.csr_matrix(np.random.default_rng(0).poisson(1.0, (60, 12)) + 1)
    seen = []
    torch.set_num_threads(1)
    model = SBNTopicModel(n_units=3, max_epochs=2, batch_size=20, n_val_docs=10, n_threads=2)
    model.fit(X, callback=lambda m: seen.append(torch.get_num_threads()))
    assert seen and set(seen) == {2} and torch.get_num_threads() == 1
    monkeypatch.setenv(threads.ENV, "2")
    seen.clear()
    model.set_params(n_threads=None).fit(X, callback=lambda m: seen.append(torch.get_num_threads()))
    assert set(seen) == {2}
    messages = [r.getMessage() for r in caplog.records if r.name == "docmodel.threads"]
    assert messages == ["training with 2 intra-op threads: n_threads=2 given",
                        "training with 2 intra-op threads: DOCMODEL_THREADS=2"]


def test_evaluate_follows_the_policy_and_restores(caplog, monkeypatch):
    """Scoring decides its threads as training does (an explicit count of the model first, then
    the policy) and gives the caller's count back."""
    from docmodel.evaluation import evaluate

    caplog.set_level(logging.INFO, logger="docmodel.threads")
    X = sp.csr_matrix(np.random.default_rng(0).poisson(1.0, (60, 12)) + 1)
    model = SBNTopicModel(n_units=3, max_epochs=1, batch_size=20, n_val_docs=10, n_threads=1).fit(X)
    seen = []
    bound = model.log_likelihood_bound
    monkeypatch.setattr(model, "log_likelihood_bound", lambda *a, **k: (seen.append(torch.get_num_threads()), bound(*a, **k))[1])
    torch.set_num_threads(2)
    evaluate(model, X[:10], n_samples=5)
    assert seen == [1] and torch.get_num_threads() == 2
    model.set_params(n_threads=None)
    monkeypatch.setenv(threads.ENV, "1")
    evaluate(model, X[:10], n_samples=5)
    assert seen == [1, 1] and torch.get_num_threads() == 2
    messages = [r.getMessage() for r in caplog.records if r.getMessage().startswith("scoring")]
    assert messages == ["scoring with 1 intra-op thread: n_threads=1 given", "scoring with 1 intra-op thread: DOCMODEL_THREADS=1"]


def test_cli_threads_option():
    args = build_parser().parse_args(["train", "c", "-o", "m", "--threads", "3"])
    assert build_model(args).n_threads == 3
    args = Namespace(**{**vars(args), "model": "lda"})
    with pytest.raises(CorpusError, match="--threads applies to SBN training"):
        build_model(args)
    compare = build_parser().parse_args(["compare", "c", "-o", "r", "--threads", "2"])
    assert compare.threads == 2


def test_prepare_process(monkeypatch, caplog):
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert threads.prepare_process(env) and env == {"OMP_WAIT_POLICY": "ACTIVE"}  # the user's choice stays
    env = {}
    assert not threads.prepare_process(env)  # torch is loaded in this process: too late here
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"} and "spin" in caplog.text


def test_the_command_line_makes_torchs_openmp_workers_sleep(tmp_path):
    # libgomp prints its settings when it loads with OMP_DISPLAY_ENV; a spin count of 0 is the
    # passive policy (300000 when none is set). The command runs first, then torch is imported.
    code = (f"from docmodel.cli import main; assert main(['train', {str(tmp_path / 'none')!r}, '-o', "
            f"{str(tmp_path / 'm')!r}]) == 2; import torch")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=dict(env, OMP_DISPLAY_ENV="VERBOSE"),
                         capture_output=True, text=True, timeout=120)
    counts = [line.split("=")[1].strip() for line in out.stderr.splitlines() if "GOMP_SPINCOUNT" in line]
    assert counts and counts[-1] == "'0'", out.stderr[-2000:]


class GatedEstimator:
    """Trains ``epochs`` epochs of a large step, one per release of ``steps``, noting its threads."""

    def __init__(self, epochs):
        self.epochs, self.steps, self.counts = epochs, threading.Semaphore(0), []

    def fit(self, X, *, vocabulary=None, X_val=None, callback=None):
        with threads.training(1e12):
            for epoch in range(1, self.epochs + 1):
                assert self.steps.acquire(timeout=20)
                self.counts.append(torch.get_num_threads())
                callback({"epoch": epoch, "seconds": 0.1})
        return self


def wait_for(condition):
    for _ in range(2000):
        if condition():
            return
        threading.Event().wait(0.005)
    raise AssertionError("timed out")


def test_app_jobs_share_the_budget_and_rebalance(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    jobs = runner.Jobs(budget=lambda: (3, "3 test CPUs"))
    monkeypatch.setattr(runner, "JOBS", jobs)
    a, b = GatedEstimator(4), GatedEstimator(2)
    run_a = runner.TrainingRun("a", a, None, None, None, {}, max_epochs=4).start()
    wait_for(lambda: len(jobs) == 1)
    run_b = runner.TrainingRun("b", b, None, None, None, {}, max_epochs=2).start()
    wait_for(lambda: len(jobs) == 2)
    assert jobs.share(run_a)[0] == 2 and jobs.share(run_b) == (1, "1 of 3 threads for 2 concurrent training jobs (3 test CPUs)")
    for _ in range(2):  # a started alone with 3 threads, and takes 2 at its first callback
        a.steps.release()
        wait_for(lambda n=len(a.counts) + 1: len(a.counts) == n)
    b.steps.release(2)
    run_b.join(10)
    assert b.counts == [1, 1] and len(jobs) == 1
    a.steps.release(2)  # a's next callback gives it the whole budget again
    run_a.join(10)
    assert a.counts == [3, 2, 2, 3] and len(jobs) == 0
