"""Run a script under the numba path and under the pure-NumPy path, in two processes."""
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_on_both_paths(script, cfgs, tmp_path):
    """Run ``script`` (a ``str.format`` template taking ``root``) on the numba path
    (``LSTM_NP_JIT=eager``) and the pure-NumPy path (``LSTM_NP_DISABLE_JIT=1``). The script reads ``sys.argv[1]`` (JSON ``cfgs``), writes ``sys.argv[2]`` (an
    ``.npz`` with a ``jit`` flag). Returns ``(numba_results, numpy_results)`` as dicts."""
    results = {}
    for flag in ("0", "1"):
        path = tmp_path / f"out{flag}.npz"
        env = dict(os.environ, LSTM_NP_DISABLE_JIT=flag,
                   LSTM_NP_JIT="off" if flag == "1" else "eager")
        subprocess.run([sys.executable, "-c", script.format(root=ROOT), json.dumps(cfgs),
                        str(path)], check=True, env=env)
        results[flag] = dict(np.load(path))
    assert bool(results["0"].pop("jit")) and not bool(results["1"].pop("jit"))
    return results["0"], results["1"]
