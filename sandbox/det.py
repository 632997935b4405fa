"""Deterministic pseudo-random numbers derived from hashed keys, stable across runs and processes."""
import hashlib
import struct


def uniforms(*key: object) -> list[float]:
    """Eight floats in [0, 1) that depend only on ``key``."""
    digest = hashlib.sha256("|".join(map(str, key)).encode()).digest()
    return [word / 2**32 for word in struct.unpack(">8I", digest)]


def pick(options, u: float):
    """The element of ``options`` selected by the uniform ``u``."""
    return options[int(u * len(options))]
