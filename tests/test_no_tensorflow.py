"""Loading and predicting work where importing tensorflow / keras fails."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.keras_routes import TOL

BLOCKER = textwrap.dedent("""
    import sys
    class _Block:
        BLOCKED = ("tensorflow", "keras", "tf_keras", "jax", "torch")
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.BLOCKED:
                raise ImportError(f"blocked import of {name}")
            return None
    sys.meta_path.insert(0, _Block())
""")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code, *args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code), *args],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_demo_runs_without_tensorflow():
    out = _run("""
        from lstm_np.cli import main
        main(["demo", "--repeat", "5"])
        assert not any(m.split(".")[0] in ("tensorflow", "keras", "tf_keras") for m in sys.modules)
    """)
    assert "['Q', 'R'] -> S" in out
    assert "time per prediction" in out


@pytest.mark.keras
def test_load_and_predict_without_tensorflow(tmp_path):
    import keras
    L = keras.layers
    rng = np.random.default_rng(0)
    inp = keras.Input((6, 3))
    y = L.Bidirectional(L.LSTM(4, return_sequences=True))(L.Masking()(inp))
    model = keras.Model(inp, [L.TimeDistributed(L.Dense(2))(y), L.LSTM(3)(y)])
    x = rng.random((5, 6, 3)).astype("float32")
    x[0, :2] = 0
    np.save(tmp_path / "x.npy", x)
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.h5")
    want = model.predict(x, verbose=0)
    _run("""
        import numpy as np, lstm_np as ln
        d = sys.argv[1]
        x = np.load(d + "/x.npy")
        for name in ("m.keras", "m.h5"):
            out = ln.load(d + "/" + name).predict(x)
            np.savez(d + "/out_" + name + ".npz", *out)
        ln.load(d + "/m.keras").save(d + "/m_np.npz")
        np.savez(d + "/out_npz.npz", *ln.load(d + "/m_np.npz").predict(x))
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
    """, str(tmp_path))
    for name in ("out_m.keras.npz", "out_m.h5.npz", "out_npz.npz"):
        with np.load(tmp_path / name) as got:
            for k, w in enumerate(want):
                assert np.max(np.abs(got[f"arr_{k}"] - w)) <= TOL
