"""Benchmark runner for issue 5: lstm_np against Keras, tf.function (+XLA), ONNX Runtime, torch.

Run from the repository root::

    python -m benchmarks.run                      # everything (long: minutes)
    python -m benchmarks.run --quick              # few repeats, short timing windows
    python -m benchmarks.run --only latency --only coldstart --repeat 20 --json out.json
    python benchmarks/run.py --quick --contenders lstm_np,torch

For every workload (see ``benchmarks/workloads.py``) each contender is built from the same
seeded Keras weights, its output is checked against Keras (max abs error; more than
``--tol`` is flagged) and only then timed: warm-up calls first (JIT compile, tracing, XLA),
then ``--repeat`` windows of an auto-sized number of calls; the table gives the median and
min-max per call, GFLOP/s and each contender's time relative to lstm_np. The pure-NumPy
path runs in a subprocess with ``LSTM_NP_DISABLE_JIT=1`` on the smaller workloads.
"""
import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks import contenders as C  # noqa: E402
from benchmarks.env import collect, format_env  # noqa: E402
from benchmarks.workloads import WORKLOAD_IDS, make_workloads  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEAK_GFLOPS = 178.0   # issue 5: FMA peak of this 2-core AVX2 machine, float32
ISSUE_COLUMN = {"keras_predict": "keras_predict", "tf_function_xla": "tf_function_xla",
                "ort_tf2onnx": "ort", "torch": "torch"}


# ---------------------------------------------------------------------- timing
def measure(fn, repeat, min_window, max_total):
    """Time ``fn()``: two warm-up calls, then ``repeat`` windows of ``number`` calls each.

    ``number`` is chosen so a window lasts about ``min_window`` seconds; timing stops early
    (after at least 3 windows) once ``max_total`` seconds are spent. Returns seconds per call.
    """
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(min_window / one))
    times = []
    start = time.perf_counter()
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times.append((time.perf_counter() - t0) / number)
            if time.perf_counter() - start > max_total and len(times) >= 3:
                break
    finally:
        if gc_was:
            gc.enable()
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "repeats": len(times), "number": number, "first_call": first}


def fmt_time(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


# ------------------------------------------------------------------ reference
def _have_keras():
    import importlib.util
    return all(importlib.util.find_spec(m) is not None for m in ("keras", "tensorflow"))


def reference(w, weights, ctx):
    """The outputs every contender is checked against (Keras when installed)."""
    if w.streaming:
        steps = w.stream_inputs()                                  # (K, B, D)
        if ctx.keras_stream_model is not None:
            u = w.layers[0].units
            h = np.zeros((w.batch, u), np.float32)
            c = np.zeros((w.batch, u), np.float32)
            out = []
            for s in steps:
                y, h, c = (t.numpy() for t in ctx.keras_stream_model([s[:, None, :], h, c],
                                                                      training=False))
                out.append(y)
            return np.stack(out), "Keras eager call, step by step"
        seq = C.numpy_reference(_as_sequence(w), weights, steps.transpose(1, 0, 2))
        return seq.transpose(1, 0, 2), "NumPy float64 (Keras not installed)"
    x = w.inputs()
    if ctx.keras_model is not None:
        return ctx.keras_model(x, training=False).numpy(), "Keras eager call"
    return C.numpy_reference(w, weights, x), "NumPy float64 (Keras not installed)"


def _as_sequence(w):
    import dataclasses
    from benchmarks.workloads import LSTM
    return dataclasses.replace(w, layers=(LSTM(w.layers[0].units, return_sequences=True),))


# ------------------------------------------------------------------- workloads
def run_workload(w, args, log=print):
    log(f"\n== {w.id}: {w.title} -- {w.describe()}")
    flops = w.flops()
    log(f"   {flops / 1e9:.4g} GFLOP per call" + (f"; issue 5 target for lstm_np: {w.target}"
                                                 if w.target else ""))
    weights = w.weights()
    ctx = C.Context(workload=w, weights=weights, tmpdir=args.tmpdir,
                    torch_threads=args.torch_threads)
    if _have_keras() and not args.no_keras:
        ctx.keras_model = C.keras_model(w, weights)
        if w.streaming:
            ctx.keras_stream_model = C.keras_stream_model(w, weights)
    ref, ref_how = reference(w, weights, ctx)
    log(f"   reference: {ref_how}")
    rows = []
    names = [n for n in C.CONTENDERS if n in args.contenders]
    for name in names:
        rows.append(_run_contender(name, ctx, ref, args, log))
        if name == "lstm_np" and w.nojit and not args.no_nojit:
            rows.append(_run_nojit_child(w, ref, args, log))
    rows = [r for r in rows if r is not None]
    base = next((r for r in rows if r["contender"] == "lstm_np" and "median" in r), None)
    for r in rows:
        r["workload"] = w.id
        if "median" in r:
            r["gflops"] = flops / r["median"] / 1e9
            r["vs_lstm_np"] = r["median"] / base["median"] if base else None
    log(format_table(w, rows))
    for line in target_lines(w, rows, args.peak_gflops):
        log("   " + line)
    return rows


def _check(out, ref, tol):
    out = np.asarray(out, np.float64)
    if out.shape != ref.shape:
        return None, f"shape {out.shape} != reference {ref.shape}"
    err = float(np.abs(out - ref).max())
    return err, ("DISAGREES WITH KERAS" if err > tol or not np.isfinite(err) else "")


def _run_contender(name, ctx, ref, args, log):
    row = {"contender": name}
    try:
        p = C.build(name, ctx)
    except C.Missing as e:
        if name in ("lstm_np_stateful", "lstm_np_model") and "only" in str(e):
            return None
        row["skipped"] = str(e)
        return row
    except Exception as e:  # a contender that cannot even be built is reported, not fatal
        row["skipped"] = f"build failed: {type(e).__name__}: {e}"
        if args.verbose:
            traceback.print_exc()
        return row
    row["note"] = p.note
    try:
        err, flag = _check(p.check(), ref, args.tol)
        row["max_abs_err"], row["flag"] = err, flag
        row.update(measure(p.fn, args.repeat, args.min_window, args.max_time))
    except Exception as e:
        row["skipped"] = f"run failed: {type(e).__name__}: {e}"
        if args.verbose:
            traceback.print_exc()
    return row


def _run_nojit_child(w, ref, args, log):
    """The pure-NumPy path: this runner in a subprocess with ``LSTM_NP_DISABLE_JIT=1``."""
    row = {"contender": "lstm_np_nojit"}
    out = os.path.join(args.tmpdir, f"nojit_{w.id}.npz")
    cmd = [sys.executable, "-m", "benchmarks.run", "--child", out, "--only", w.id,
           "--repeat", str(args.repeat), "--min-window", str(args.min_window),
           "--max-time", str(args.max_time)] + (["--tiny"] if args.tiny else [])
    env = dict(os.environ, LSTM_NP_DISABLE_JIT="1",
               PYTHONPATH=os.pathsep.join([REPO_ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    r = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(out):
        tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
        row["skipped"] = f"child failed: {tail}"
        return row
    data = np.load(out, allow_pickle=False)
    row.update(json.loads(str(data["stats"])))
    err, flag = _check(data["check"], ref, args.tol)
    row["max_abs_err"], row["flag"] = err, flag
    return row


def child_main(args):
    """``--child OUT``: time lstm_np alone for one workload, save its check output and stats."""
    (wid,) = args.only
    w = make_workloads(tiny=args.tiny)[wid]
    ctx = C.Context(workload=w, weights=w.weights())
    p = C.build("lstm_np", ctx)
    check = p.check()
    stats = measure(p.fn, args.repeat, args.min_window, args.max_time)
    stats["note"] = p.note
    np.savez(args.child, check=check, stats=json.dumps(stats))
    return 0


# --------------------------------------------------------------------- output
def format_table(w, rows):
    head = (f"   {'contender':<17} {'max|err|':>9} {'median':>10} {'min - max':>21} "
            f"{'GFLOP/s':>8} {'/lstm_np':>8} {'1st call':>9} {'issue 5':>9}  note")
    lines = [head, "   " + "-" * (len(head) - 3)]
    for r in rows:
        if "skipped" in r:
            lines.append(f"   {r['contender']:<17} skipped: {r['skipped']}")
            continue
        err = "-" if r.get("max_abs_err") is None else f"{r['max_abs_err']:.1e}"
        ratio = "-" if r.get("vs_lstm_np") is None else f"{r['vs_lstm_np']:.2f}x"
        issue = w.issue_figures.get(ISSUE_COLUMN.get(r["contender"], ""))
        note = r.get("note", "")
        if r.get("flag"):
            note = f"** {r['flag']} ** " + note
        lines.append(
            f"   {r['contender']:<17} {err:>9} {fmt_time(r['median']):>10} "
            f"{fmt_time(r['min']) + ' - ' + fmt_time(r['max']):>21} {r['gflops']:8.2f} "
            f"{ratio:>8} {fmt_time(r['first_call']):>9} {fmt_time(issue):>9}  {note}")
    return "\n".join(lines)


def target_lines(w, rows, peak):
    """Issue 5's targets for lstm_np, with the measured figures."""
    by = {r["contender"]: r for r in rows if "median" in r}
    me = by.get("lstm_np")
    if me is None:
        return []
    out = []
    limit = {"stream": 10e-6, "latency": 0.35e-3}.get(w.id)
    if limit is not None:
        best = min((by[n]["median"] for n in ("lstm_np", "lstm_np_stateful") if n in by))
        out.append(f"target {fmt_time(limit)}: lstm_np {fmt_time(best)} -> "
                   f"{'met' if best <= limit else 'NOT met (%.1fx over)' % (best / limit)}")
    if w.id == "throughput":
        pct = 100 * me["gflops"] / peak
        out.append(f"target >= 50% of {peak:.0f} GFLOP/s: lstm_np {me['gflops']:.1f} GFLOP/s "
                   f"= {pct:.0f}% -> {'met' if pct >= 50 else 'NOT met'}")
        for n in ("ort_tf2onnx", "ort_lstm_op", "tf_function_xla"):
            if n in by:
                ok = me["median"] <= by[n]["median"]
                out.append(f"target lstm_np <= {n}: {fmt_time(me['median'])} vs "
                           f"{fmt_time(by[n]['median'])} -> {'met' if ok else 'NOT met'}")
    return out


# ----------------------------------------------------------------------- main
def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="3 repeats of ~20 ms windows, <= 3 s per contender, 1 cold-start run")
    ap.add_argument("--only", action="append", metavar="WORKLOAD",
                    help=f"run only these (repeatable or comma-separated): "
                         f"{', '.join(WORKLOAD_IDS)}, coldstart")
    ap.add_argument("--contenders", default=",".join(C.CONTENDERS),
                    help="comma-separated contenders (default: all): " + ", ".join(C.CONTENDERS))
    ap.add_argument("--repeat", type=int, help="timing windows per contender (default 15; 3 quick)")
    ap.add_argument("--min-window", type=float, help="seconds per timing window (default 0.2)")
    ap.add_argument("--max-time", type=float, help="seconds of timing per contender (default 30)")
    ap.add_argument("--coldstart-runs", type=int, help="processes per cold-start case (default 3)")
    ap.add_argument("--json", metavar="OUT", help="also write environment and results as JSON")
    ap.add_argument("--tol", type=float, default=1e-4, help="max abs error vs Keras before flagging")
    ap.add_argument("--peak-gflops", type=float, default=PEAK_GFLOPS,
                    help="machine FMA peak for the %% of peak line (issue 5: 178)")
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="torch.set_num_threads (default: torch's own, the core count)")
    ap.add_argument("--no-nojit", action="store_true", help="skip the pure-NumPy subprocess")
    ap.add_argument("--no-keras", action="store_true",
                    help="do not import Keras: NumPy float64 reference, Keras/TF contenders skipped")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes: smoke tests of the harness")
    ap.add_argument("--verbose", action="store_true", help="print tracebacks of failures")
    ap.add_argument("--child", metavar="OUT", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    q = args.quick
    args.repeat = args.repeat or (3 if q else 15)
    args.min_window = args.min_window or (0.02 if q else 0.2)
    args.max_time = args.max_time or (3.0 if q else 30.0)
    args.coldstart_runs = args.coldstart_runs or (1 if q else 3)
    only = [x for item in (args.only or []) for x in item.split(",") if x]
    unknown = set(only) - set(WORKLOAD_IDS) - {"coldstart"}
    if unknown:
        ap.error(f"unknown workload(s) {sorted(unknown)}; choose from {WORKLOAD_IDS + ('coldstart',)}")
    args.only = only or list(WORKLOAD_IDS) + ["coldstart"]
    args.contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    bad = set(args.contenders) - set(C.CONTENDERS)
    if bad:
        ap.error(f"unknown contender(s) {sorted(bad)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    env = collect()
    print("lstm_np benchmarks (issue 5)" + (" -- QUICK run" if args.quick else "")
          + (" -- TINY sizes" if args.tiny else ""))
    print(format_env(env))
    print(f"timing: {args.repeat} windows of >= {args.min_window * 1e3:.0f} ms, "
          f"<= {args.max_time:.0f} s per contender; outputs checked against the reference "
          f"first (tol {args.tol:g})")
    results, cold = [], []
    with tempfile.TemporaryDirectory(prefix="lstm_np_bench_") as tmpdir:
        args.tmpdir = tmpdir
        workloads = make_workloads(tiny=args.tiny)
        for wid in args.only:
            if wid == "coldstart":
                continue
            results += run_workload(workloads[wid], args)
    if "coldstart" in args.only:
        if args.tiny:
            print("\n== coldstart: skipped with --tiny")
        else:
            from benchmarks.coldstart import run_coldstart
            print(f"\n== coldstart: fresh process, import + load the latency model + predict "
                  f"once (median of {args.coldstart_runs})")
            cold = run_coldstart(repeat=args.coldstart_runs)
    flagged = [f"{r['workload']}/{r['contender']}" for r in results if r.get("flag")]
    if flagged:
        print("\nFLAGGED (disagree with the reference by more than %g): %s"
              % (args.tol, ", ".join(flagged)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": env, "args": {k: v for k, v in vars(args).items() if k != "tmpdir"},
                       "results": results, "coldstart": cold}, f, indent=1, default=str)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
