"""Imports go one way only (app -> docmodel -> corpora): checked in fresh interpreters.

Every module found under ``corpora/`` and ``docmodel/`` is imported, so modules added later are
covered without editing this file. ``docmodel prepare`` must start without torch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

FORBIDDEN = {
    "corpora": ("torch", "docmodel", "app", "streamlit"),
    "docmodel": ("streamlit", "app"),
}

# Imports each module in turn and reports, for each forbidden package, the first module whose
# import brought it in (sys.modules only grows, so the culprit is the module imported then).
PROBE = textwrap.dedent(
    """
    import importlib, json, sys
    modules, forbidden = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    loaded = lambda name: any(m == name or m.startswith(name + ".") for m in sys.modules)
    culprits = {}
    for module in modules:
        importlib.import_module(module)
        for name in forbidden:
            if name not in culprits and loaded(name):
                culprits[name] = module
    print(json.dumps(culprits))
    """
)


def modules_of(package: str) -> list[str]:
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def probe(modules: list[str], forbidden) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(modules), json.dumps(list(forbidden))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_never_import_the_layers_above(package):
    modules = modules_of(package)
    assert f"{package}.cli" in modules or package != "docmodel"
    culprits = probe(modules, FORBIDDEN[package])
    assert culprits == {}, f"{package} modules import what they must not: {culprits}"


def test_the_walk_finds_every_module():
    assert {"corpora", "corpora.prepare", "corpora.tokenize", "corpora.bow"} <= set(
        modules_of("corpora")
    )
    assert "docmodel.cli_commands.prepare" in modules_of("docmodel")


def test_import_corpora_and_prepare_help_do_not_load_torch():
    code = textwrap.dedent(
        """
        import contextlib, io, json, runpy, sys
        import corpora
        after_corpora = "torch" in sys.modules
        sys.argv = ["docmodel", "prepare", "--help"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                runpy.run_module("docmodel", run_name="__main__")
            except SystemExit as exc:
                status = exc.code
        print(json.dumps([after_corpora, "torch" in sys.modules, status, "CORPUS_DIR" in out.getvalue()]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [False, False, 0, True]
