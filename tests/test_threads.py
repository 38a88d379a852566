"""Threads: a stateless model shared by threads gives the serial results.

Rule (also in ``Model.predict``'s docstring): a stateless model may be shared by any
number of threads, since ``predict`` only reads the weights. A stateful model keeps its
states on the layers and is not thread-safe: use one model per thread (``ln.load`` the
file once per thread).
"""
import os
import threading

import numpy as np
import pytest

import lstm_np as ln

pytestmark = pytest.mark.numba   # threads sharing a model on the compiled kernels

ALPHABET = os.path.join(os.path.dirname(ln.__file__), "data", "alphabet.keras")
THREADS, CALLS = 8, 50


def test_threads_share_a_stateless_model():
    model = ln.load(ALPHABET)
    rng = np.random.default_rng(7)
    xs = [rng.random((int(rng.integers(1, 6)), 5, 1)).astype(np.float32)
          for _ in range(CALLS)]
    serial = [model.predict(x) for x in xs]
    results = [[None] * CALLS for _ in range(THREADS)]
    errors = []
    barrier = threading.Barrier(THREADS)

    def work(t):
        try:
            barrier.wait()
            order = np.random.default_rng(t).permutation(CALLS)
            for k in order:
                results[t][k] = model.predict(xs[k])
        except BaseException as exc:   # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors
    for t in range(THREADS):
        for k in range(CALLS):
            np.testing.assert_array_equal(results[t][k], serial[k])
