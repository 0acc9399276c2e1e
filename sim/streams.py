"""Named random streams: one numpy Generator per (seed, replication, owner, purpose).

A stream's seed depends only on its names, never on how many other streams exist or in
what order they were made, so adding a level, a purpose or a destination never shifts
another stream (common random numbers across scenarios, exact reproducibility).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from itertools import chain

import numpy as np

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


def draws(rng: np.random.Generator, transform: Callable[[np.ndarray], np.ndarray] | None = None) -> Iterator:
    """An endless iterator of values drawn from ``rng`` in batches: take one with ``next()``.

    ``transform`` maps a batch of uniforms in [0, 1) to values (a sampler's inverse CDF, or a
    router's choice of destination); without it the values are the uniforms. The sequence of
    values does not depend on the batch size, only on the stream. (A ``chain`` over batches
    makes each ``next()`` a C call: the engine takes several per patient.)
    """

    def batches() -> Iterator[list]:
        while True:
            uniforms = rng.random(BATCH)
            yield (uniforms if transform is None else transform(uniforms)).tolist()

    return chain.from_iterable(batches())
