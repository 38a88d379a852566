"""Smoke test of the benchmark harness (``benchmarks/run.py``): tiny sizes, no timing asserts.

Needs no optional package: ``--no-keras`` checks against the NumPy float64 reference and
only the lstm_np contender runs.
"""
import json

import pytest

from benchmarks import run


def test_runner_tiny_latency(tmp_path, capsys):
    out = tmp_path / "out.json"
    rc = run.main(["--tiny", "--quick", "--repeat", "2", "--min-window", "0.001",
                   "--only", "latency", "--contenders", "lstm_np", "--no-keras",
                   "--no-nojit", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "== latency" in text and "lstm_np" in text
    (row,) = json.loads(out.read_text())["results"]
    assert row["contender"] == "lstm_np" and row["workload"] == "latency"
    assert row["max_abs_err"] < 1e-4 and not row["flag"]
    assert row["median"] > 0 and row["vs_lstm_np"] == 1.0


@pytest.mark.parametrize("wid", ["gru_latency", "simple_rnn_latency"])
def test_runner_tiny_gru_simple_rnn(wid, tmp_path):
    """The GRU/SimpleRNN workloads against the NumPy float64 reference (no Keras)."""
    out = tmp_path / "out.json"
    rc = run.main(["--tiny", "--quick", "--repeat", "2", "--min-window", "0.001",
                   "--only", wid, "--contenders", "lstm_np", "--no-keras",
                   "--no-nojit", "--json", str(out)])
    assert rc == 0
    (row,) = json.loads(out.read_text())["results"]
    assert row["workload"] == wid and row["max_abs_err"] < 1e-4 and not row["flag"]


def test_flops_formula():
    from benchmarks.workloads import make_workloads
    w = make_workloads()["throughput"]
    assert w.flops() == 2 * 256 * 100 * 4 * 256 * (128 + 256)
    ws = make_workloads()
    assert ws["gru_throughput"].flops() == 2 * 256 * 100 * 3 * 256 * (128 + 256)
    assert ws["gru_latency"].flops() == 2 * 100 * 3 * 128 * (64 + 128) + 2 * 128 * 10
    assert ws["simple_rnn_latency"].flops() == 2 * 100 * 128 * (64 + 128) + 2 * 128 * 10


def test_gru_weights_keras_shapes():
    from benchmarks.workloads import make_workloads
    kernel, recurrent, bias = make_workloads()["gru_latency"].weights()[0]
    assert kernel.shape == (64, 384) and recurrent.shape == (128, 384) and bias.shape == (2, 384)
