"""Cold start: fresh processes that import, load a saved model and predict once.

Model: the ``latency`` workload (LSTM(128) -> Dense(10), batch 1, 100 steps), saved as a
``.keras`` file (and as ``.npz`` weights, and as an ONNX graph with the ``LSTM`` op).
Each case is a new ``python -c`` process; the parent times it end to end (interpreter
start included) and the child reports its phases and its peak RSS: ``VmHWM`` from
``/proc/self/status``, which starts afresh at ``exec``. (``ru_maxrss`` is only the fallback
without /proc: Linux carries the forking parent's peak over into the child's, so every case
read the parent's 1.7 GB.)

Cases: lstm_np with an empty ``NUMBA_CACHE_DIR`` (first-ever compile), lstm_np with that
cache warm, lstm_np pure NumPy (``LSTM_NP_DISABLE_JIT=1``), TensorFlow/Keras
``load_model`` + ``predict``, ONNX Runtime ``InferenceSession`` + ``run``.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

__all__ = ["run_coldstart", "CHILD_LSTM_NP", "CHILD_KERAS", "CHILD_ORT"]

_PRELUDE = """
import time
_t0 = time.perf_counter()
import json, resource, sys
import numpy as np
data = np.load(sys.argv[1])
x, expected = data["x"], data["y"]
def peak_rss_mb():
    # VmHWM starts afresh at exec; ru_maxrss can carry the forking parent's peak.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def report(how, t_import, t_load, y):
    t_end = time.perf_counter()
    print("COLDSTART " + json.dumps(dict(
        how=how, import_s=t_import - _t0, load_s=t_load - t_import, predict_s=t_end - t_load,
        inside_s=t_end - _t0, err=float(np.abs(np.asarray(y, np.float64) - expected).max()),
        rss_mb=peak_rss_mb())))
"""

CHILD_LSTM_NP = _PRELUDE + """
import lstm_np as ln
t_import = time.perf_counter()
if hasattr(ln, "load"):
    model = ln.load(sys.argv[2])
    t_load = time.perf_counter()
    how = "ln.load(.keras).predict"
    y = model.predict(x)
else:
    w = np.load(sys.argv[3])
    layer = ln.LSTM(int(w["units"]), dtype="float32")
    layer.set_weights([w["kernel"], w["recurrent_kernel"], w["bias"]])
    t_load = time.perf_counter()
    how = "npz weights + ln.LSTM + NumPy Dense (lstm_np has no load() yet)"
    y = layer(x) @ w["dense_kernel"] + w["dense_bias"]
report(how + ("" if ln.JIT_ENABLED else ", no JIT"), t_import, t_load, y)
"""

CHILD_KERAS = _PRELUDE + """
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
t_import = time.perf_counter()
model = keras.saving.load_model(sys.argv[2])
t_load = time.perf_counter()
y = model.predict(x, verbose=0)
report("keras.saving.load_model(.keras).predict", t_import, t_load, y)
"""

CHILD_ORT = _PRELUDE + """
import onnxruntime as ort
t_import = time.perf_counter()
sess = ort.InferenceSession(sys.argv[2], providers=["CPUExecutionProvider"])
t_load = time.perf_counter()
y = sess.run(None, {sess.get_inputs()[0].name: x})[0]
report("InferenceSession(.onnx, LSTM op).run", t_import, t_load, y)
"""


def _run_child(code, args, env):
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                       env=env)
    wall = time.perf_counter() - t0
    for line in r.stdout.splitlines():
        if line.startswith("COLDSTART "):
            out = json.loads(line[len("COLDSTART "):])
            out["wall_s"] = wall
            return out
    tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
    raise RuntimeError(f"child failed (rc {r.returncode}): {tail}")


def _median_runs(code, args, env, n):
    runs = [_run_child(code, args, env) for _ in range(n)]
    keys = ("wall_s", "import_s", "load_s", "predict_s", "rss_mb")
    out = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["how"] = runs[0]["how"]
    out["err"] = max(r["err"] for r in runs)
    out["runs"] = n
    return out


def _save_model(tmpdir, have_keras, have_onnx):
    """Save the latency model in the formats the children load; returns their paths."""
    from benchmarks.workloads import make_workloads
    w = make_workloads()["latency"]
    weights = w.weights()
    x = w.inputs()
    paths = {"data": os.path.join(tmpdir, "data.npz"), "npz": os.path.join(tmpdir, "weights.npz")}
    (k, r, b), (dk, db) = weights
    np.savez(paths["npz"], units=w.layers[0].units, kernel=k, recurrent_kernel=r, bias=b,
             dense_kernel=dk, dense_bias=db)
    if have_keras:
        from benchmarks.contenders import keras_model
        model = keras_model(w, weights)
        y = model(x, training=False).numpy()
        paths["keras"] = os.path.join(tmpdir, "latency.keras")
        model.save(paths["keras"])
    else:
        from benchmarks.contenders import numpy_reference
        y = numpy_reference(w, weights, x)
    np.savez(paths["data"], x=x, y=y)
    if have_onnx:
        import onnx
        from benchmarks.onnx_graph import build_onnx_model
        paths["onnx"] = os.path.join(tmpdir, "latency.onnx")
        onnx.save(build_onnx_model(w, weights), paths["onnx"])
    return paths


def _have(name):
    import importlib.util
    return importlib.util.find_spec(name) is not None


def run_coldstart(repeat=1, log=print):
    """Measure every case; returns a list of result dicts (skips carry a ``skipped`` note)."""
    have_keras = _have("keras") and _have("tensorflow")
    have_onnx = _have("onnx") and _have("onnxruntime")
    results = []
    with tempfile.TemporaryDirectory(prefix="lstm_np_coldstart_") as tmpdir:
        paths = _save_model(tmpdir, have_keras, have_onnx)
        base = {k: v for k, v in os.environ.items() if k != "LSTM_NP_DISABLE_JIT"}
        cold_dirs = []
        np_args = [paths["data"], paths.get("keras", ""), paths["npz"]]
        cases = []

        def cold_env():
            # a new empty cache directory for every run: first-ever compile each time
            cold_dirs.append(tempfile.mkdtemp(dir=tmpdir, prefix="empty_cache_"))
            return dict(base, NUMBA_CACHE_DIR=cold_dirs[-1])

        cases.append(("lstm_np, empty numba cache (first compile)", CHILD_LSTM_NP, np_args, None))
        cases.append(("lstm_np, warm numba cache", CHILD_LSTM_NP, np_args, "warm"))
        cases.append(("lstm_np, pure NumPy (LSTM_NP_DISABLE_JIT=1)", CHILD_LSTM_NP, np_args,
                      dict(base, LSTM_NP_DISABLE_JIT="1")))
        cases.append(("TensorFlow/Keras", CHILD_KERAS, [paths["data"], paths.get("keras", "")],
                      dict(base, TF_CPP_MIN_LOG_LEVEL="3")))
        cases.append(("ONNX Runtime", CHILD_ORT, [paths["data"], paths.get("onnx", "")], base))
        for name, code, args, env in cases:
            if code is CHILD_KERAS and not have_keras:
                results.append({"case": name, "skipped": "TensorFlow/Keras not installed"})
                continue
            if code is CHILD_ORT and not have_onnx:
                results.append({"case": name, "skipped": "onnx/onnxruntime not installed"})
                continue
            try:
                if env is None:
                    runs = [_run_child(code, args, cold_env()) for _ in range(repeat)]
                    res = {k: statistics.median(r[k] for r in runs)
                           for k in ("wall_s", "import_s", "load_s", "predict_s", "rss_mb")}
                    res.update(how=runs[0]["how"], err=max(r["err"] for r in runs), runs=repeat)
                else:
                    if env == "warm":   # the cache the first-compile case filled
                        if not cold_dirs:
                            _run_child(code, args, cold_env())
                        env = dict(base, NUMBA_CACHE_DIR=cold_dirs[-1])
                    res = _median_runs(code, args, env, repeat)
            except RuntimeError as e:
                results.append({"case": name, "skipped": str(e)})
                continue
            res["case"] = name
            results.append(res)
            log(format_row(res))
    return results


def format_row(r):
    if "skipped" in r:
        return f"  {r['case']:<46} skipped: {r['skipped']}"
    return (f"  {r['case']:<46} {r['wall_s']:7.2f} s  (import {r['import_s']:.2f} s, "
            f"load {r['load_s']:.2f} s, first predict {r['predict_s']:.2f} s)  "
            f"peak RSS {r['rss_mb']:6.0f} MB  err {r['err']:.1e}  [{r['how']}]")
