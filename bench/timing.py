"""The timing loop the benchmarks share: warm up once, then p50 and p95 (nearest rank) in ms."""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable


def timed(fn: Callable[[], object], repeat: int = 30) -> tuple[float, float, object]:
    result = fn()  # warm-up (also parses deployed models, fills caches)
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, math.ceil(0.95 * len(samples)) - 1)], result
