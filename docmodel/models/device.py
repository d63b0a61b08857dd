"""The device a torch model trains and scores on, from the ``device`` parameter every neural
kind takes (``cpu``, ``cuda``, ``cuda:N`` or ``auto``)."""

from __future__ import annotations

import torch

from docmodel.errors import ModelError


def resolve_device(device) -> torch.device:
    """``auto`` picks CUDA when available, else CPU; anything else must name a usable device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str) or device.split(":")[0] not in ("cpu", "cuda"):
        raise ModelError(f"unknown device {device!r}; use cpu, cuda or auto")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("device 'cuda' was asked for but no CUDA GPU is available; use --device cpu or auto")
    try:
        return torch.device(device)
    except RuntimeError:
        raise ModelError(f"unknown device {device!r}; use cpu, cuda or auto") from None
