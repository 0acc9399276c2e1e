"""Named random streams: one numpy Generator per (seed, replication, owner, purpose).

A stream's seed depends only on its names, never on how many other streams exist or in
what order they were made, so adding a level, a purpose or a destination never shifts
another stream (common random numbers across scenarios, exact reproducibility).
"""

from __future__ import annotations

import hashlib

import numpy as np

from .distributions import Sampler

BATCH = 1024


def stream_key(name: str) -> int:
    """A stable 64-bit integer for a stream name (same on every machine and Python)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def generator(seed: int, replication: int, owner: str, purpose: str) -> np.random.Generator:
    """The Generator for one purpose of one owner (a level name, or ``relapse``)."""
    sequence = np.random.SeedSequence(
        entropy=seed, spawn_key=(replication, stream_key(owner), stream_key(purpose))
    )
    return np.random.Generator(np.random.PCG64(sequence))


class Draws:
    """Values from a sampler, drawn from its own stream in batches and handed out one by one.

    The sequence of values does not depend on the batch size, only on the stream.
    """

    __slots__ = ("_rng", "_sampler", "_values", "_next")

    def __init__(self, rng: np.random.Generator, sampler: Sampler | None = None):
        self._rng = rng
        self._sampler = sampler
        self._values: list[float] = []
        self._next = 0

    def __call__(self) -> float:
        if self._next == len(self._values):
            uniforms = self._rng.random(BATCH)
            batch = uniforms if self._sampler is None else self._sampler.from_uniforms(uniforms)
            self._values = batch.tolist()
            self._next = 0
        value = self._values[self._next]
        self._next += 1
        return value
