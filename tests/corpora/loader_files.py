"""Files for the loader tests: write one (creating its folders), and a uuencoded attachment."""

from __future__ import annotations

import binascii
import random


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def uuencoded(n_lines: int = 40, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    body = b"".join(binascii.b2a_uu(rng.randbytes(45)) for _ in range(n_lines))
    return b"begin 644 picture.gif\n" + body + b"`\nend\n"
