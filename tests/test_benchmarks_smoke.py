"""Smoke test of the benchmark harness (``benchmarks/run.py``): tiny sizes, no timing asserts.

Needs no optional package: ``--no-keras`` checks against the NumPy float64 reference and
only the lstm_np contender runs.
"""
import json

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


def test_flops_formula():
    from benchmarks.workloads import make_workloads
    w = make_workloads()["throughput"]
    assert w.flops() == 2 * 256 * 100 * 4 * 256 * (128 + 256)
