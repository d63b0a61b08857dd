"""Checkpoints as plain data.

A model is saved as one file, ``model.pt``: a dict of format name and version, model kind,
config, tensors (``state``), vocabulary words, metrics and training history. It is read back
with ``torch.load(weights_only=True)``, which only rebuilds tensors, numbers, strings, lists and
dicts, so a file handed over by a stranger cannot run code. A model directory also holds
``vocab.txt`` and ``metrics.json`` for people and other tools. Writes are atomic.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path

import torch

from docmodel.errors import ModelError
from docmodel.models import REGISTRY

FORMAT = "docmodel-model"
FORMAT_VERSION = 1
CHECKPOINT_NAME = "model.pt"


def checkpoint_path(path: str | Path) -> Path:
    """``path`` itself if it is a file, else ``path/model.pt``."""
    path = Path(path)
    return path / CHECKPOINT_NAME if path.is_dir() or not path.suffix else path


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Write ``payload`` (kind, config, state, vocabulary, metrics, history) as a model file.

    ``path`` is a model directory (``model.pt``, ``vocab.txt`` and ``metrics.json`` are
    written inside it) or a file name ending in ``.pt``.
    """
    path = Path(path)
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, **payload}
    if path.suffix == ".pt":
        target = path
    else:
        path.mkdir(parents=True, exist_ok=True)
        target = path / CHECKPOINT_NAME
    atomic_write_bytes(target, lambda f: torch.save(data, f))
    if target.parent == path:
        vocab = payload.get("vocabulary")
        if vocab:
            atomic_write_bytes(path / "vocab.txt", lambda f: f.write("".join(w + "\n" for w in vocab).encode()))
        metrics = {"kind": payload.get("kind"), "config": payload.get("config"), "metrics": payload.get("metrics")}
        text = json.dumps(metrics, indent=2, default=float).encode()
        atomic_write_bytes(path / "metrics.json", lambda f: f.write(text))
    return target


def load_checkpoint(path, *, kind: str | None = None) -> dict:
    """Read a model file safely and check its format; ``path`` is a file, a directory or a
    binary stream (an upload).

    Raises
    ------
    ModelError
        The file is missing, truncated, not a docmodel checkpoint, of another format version,
        of another model kind, or would need unpickling of arbitrary objects (refused unrun).
    """
    name = getattr(path, "name", None) or str(path)
    if isinstance(path, (str, Path)):
        path = checkpoint_path(path)
        name = str(path)
        if not path.exists():
            raise ModelError(f"model file not found: {path}; train one with 'docmodel train'")
    if not _looks_like_torch_file(path):
        raise ModelError(
            f"{name} is not a docmodel model file (expected a .pt checkpoint saved by docmodel or the "
            "Models page)"
        )
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's text starts with advice to load with weights_only=False: show what was asked
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [repr(exc)]
        asked = next((line for line in lines if "GLOBAL" in line), lines[0])
        raise ModelError(
            f"{name} is not a plain-data docmodel checkpoint and was refused without loading it "
            f"(it asks to rebuild objects: {asked[:160]})"
        ) from None
    except Exception as exc:  # damaged bytes surface as any of a dozen types (KeyError, IndexError, ...)
        raise ModelError(
            f"{name} is not a readable docmodel checkpoint (truncated or corrupt: {_brief(exc, str)})"
        ) from None
    # A stranger's file can hold any plain data in any field (a tensor where a string belongs):
    # compare types first, and quote values briefly, so every answer is one clear line.
    if not isinstance(data, dict) or not _is(data.get("format"), str, FORMAT):
        raise ModelError(f"{name} is not a docmodel checkpoint")
    if not _is(data.get("format_version"), int, FORMAT_VERSION):
        raise ModelError(
            f"{name} has checkpoint format version {_brief(data.get('format_version'))}; this docmodel reads "
            f"version {FORMAT_VERSION}"
        )
    if kind is not None and not _is(data.get("kind"), str, kind):
        raise ModelError(f"{name} holds a {_brief(data.get('kind'))} model, not {kind!r}")
    for key in ("config", "state"):
        if not isinstance(data.get(key), dict):
            raise ModelError(f"{name} is malformed: '{key}' is missing")
    return data


def load_model(path):
    """Load any docmodel model file as its estimator (the kind it names in the registry,
    :mod:`docmodel.models`)."""
    data = load_checkpoint(path)
    name = str(path) if isinstance(path, (str, Path)) else getattr(path, "name", None) or "the model file"
    kind = data.get("kind")
    if type(kind) is not str or kind not in REGISTRY:
        raise ModelError(f"unknown model kind {_brief(kind)} in {name}")
    estimator = REGISTRY[kind].estimator()
    try:
        return estimator.from_checkpoint(data)
    except ModelError as exc:  # it may quote a field's value, and a tensor's repr spans lines
        raise ModelError(" ".join(str(exc).split())) from None
    except Exception as exc:  # any field may hold anything: a bad file is the user's error, not ours
        raise ModelError(
            f"{name} is a malformed {kind} checkpoint ({type(exc).__name__}: {_brief(exc, str)})"
        ) from None


def _looks_like_torch_file(path) -> bool:
    """Whether the file starts as ``torch.save`` writes: a zip archive, or (the legacy format) a
    pickle's protocol byte. Anything else (an image renamed ``.pt``) is not handed to torch, whose
    message would be about unpickling."""
    if isinstance(path, (str, Path)):
        with open(path, "rb") as f:
            head = f.read(4)
    else:
        start = path.tell()
        head = path.read(4)
        path.seek(start)
    return not head or head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def _is(value, kind: type, expected) -> bool:
    return type(value) is kind and value == expected


def _brief(value, show=repr) -> str:
    text = " ".join(show(value).split())
    return text if len(text) <= 80 else text[:77] + "..."
