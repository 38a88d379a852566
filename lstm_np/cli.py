"""Command line: ``lstm-np <subcommand>`` / ``python -m lstm_np <subcommand>``.

Subcommands: ``convert``, ``predict``, ``verify``, ``bench``, ``demo``; ``lstm-np CMD --help``
shows each one's options (with their defaults) and an example. Errors, including bad
option values, print one line ``lstm-np: error: ...`` and exit 2 (``verify`` exits 1 when
the outputs differ); ``--debug`` shows the traceback.
"""

DESCRIPTION = "Run trained Keras recurrent models without TensorFlow."
import argparse
import json
import os
import sys
import time

import numpy as np

__all__ = ["main", "CliError"]

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


class CliError(Exception):
    """A user error: printed as one line, exit status ``code``."""

    def __init__(self, message, code=2):
        super().__init__(message)
        self.code = code


def _load(path):
    from . import load
    if not os.path.isfile(path):
        raise CliError(f"{path}: no such file")
    return load(path)


def _to_float64(model):
    """The same model computing in float64 (float inputs read as float64)."""
    from .io.npz import load_npz
    import io

    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    from .io.npz import HEADER_KEY
    header = json.loads(str(arrays[HEADER_KEY]))

    def walk(obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k == "dtype" and v in ("float16", "float32", "bfloat16"):
                    obj[k] = "float64"
                else:
                    walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    walk(header["model"])
    arrays[HEADER_KEY] = np.array(json.dumps(header))
    out = io.BytesIO()
    np.savez(out, **arrays)
    out.seek(0)
    return load_npz(out)


def convert(args):
    """Read a Keras .keras/.h5 (or .npz) model and write lstm_np's .npz."""
    model = _load(args.input)
    if args.float64:
        model = _to_float64(model)
    if not args.output.endswith(".npz"):
        raise CliError(f"{args.output}: the output must be a .npz file")
    model.save(args.output)
    model.summary()
    print(f"wrote {args.output}: {model.count_params():,} parameters"
          f"{' (float64)' if args.float64 else ''}")
    return 0


def _note(message):
    print(f"lstm-np: note: {message}", file=sys.stderr)


def _read_inputs(path, model):
    """Arrays from a .npy (memory-mapped) or .npz (by input name; arrays named otherwise
    are taken in file order when their count is the model's, with a note saying so)."""
    if not os.path.isfile(path):
        raise CliError(f"{path}: no such file")
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CliError(f"{path}: cannot read input ({exc})") from None
    names = model.input_names
    if isinstance(data, np.ndarray):
        if len(names) != 1:
            raise CliError(f"{path}: one array, but the model has {len(names)} inputs "
                           f"{names}; give a .npz with one array per input name")
        return [data]
    with data:
        if all(n in data.files for n in names):
            return [data[n] for n in names]
        if len(data.files) != len(names):
            raise CliError(f"{path}: arrays {data.files} do not match the model's inputs "
                           f"{names} (name each array after its input)")
        _note(f"{path}: array name(s) {data.files} do not match the model's input(s) "
              f"{names}; using them in file order")
        return [data[k] for k in data.files]


class _Progress:
    """A one-line progress bar on stderr, drawn only on a terminal."""

    def __init__(self, total, enabled):
        self.total, self.enabled, self.done = total, enabled, 0
        self.start = time.perf_counter()

    def update(self, n):
        self.done += n
        if self.enabled:
            frac = self.done / self.total
            bar = "#" * int(30 * frac)
            rate = self.done / max(time.perf_counter() - self.start, 1e-9)
            sys.stderr.write(f"\r[{bar:<30}] {self.done}/{self.total} samples "
                             f"({rate:,.0f}/s)")
            sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _predict_batches(model, xs, batch_size, progress):
    n = xs[0].shape[0]
    if n == 0:
        raise CliError("the input has no samples")
    chunks = []
    for s in range(0, n, batch_size):
        out = model.predict([np.asarray(v[s:s + batch_size]) for v in xs]
                            if len(xs) > 1 else np.asarray(xs[0][s:s + batch_size]),
                            batch_size=batch_size)
        chunks.append(out)
        progress.update(min(batch_size, n - s))
    progress.close()
    first = chunks[0]
    if isinstance(first, dict):
        return {k: np.concatenate([c[k] for c in chunks]) for k in first}
    if isinstance(first, list):
        return [np.concatenate([c[i] for c in chunks]) for i in range(len(first))]
    return np.concatenate(chunks)


def _output_path(args, model):
    """The file ``predict`` writes, exactly as named: ``.npy`` for one output, ``.npz``
    for one or several (NumPy would append a suffix to any other name)."""
    several = len(model._output_refs()) > 1
    out = args.output or ("predictions.npz" if several else "predictions.npy")
    if out.endswith(".npz") or (out.endswith(".npy") and not several):
        return out
    want = ".npz (the model has several outputs)" if several else ".npy or .npz"
    raise CliError(f"--output {out}: expected a {want} file name")


def predict(args):
    """Run a model on inputs from a file, without TensorFlow."""
    model = _load(args.model)
    out = _output_path(args, model)
    xs = _read_inputs(args.input, model)
    model._standardize(xs)   # shape errors name the whole input, not a batch of it
    show = sys.stderr.isatty() and not args.quiet
    y = _predict_batches(model, xs, args.batch_size, _Progress(xs[0].shape[0], show))
    if isinstance(y, np.ndarray):
        if out.endswith(".npz"):
            np.savez(out, output_0=y)
        else:
            np.save(out, y)
        shapes = str(y.shape)
    else:
        names = model.output_names
        if len(set(names)) != len(names):
            names = [f"output_{i}" for i in range(len(y))]
        items = y.items() if isinstance(y, dict) else zip(names, y)
        items = dict(items)
        np.savez(out, **items)
        shapes = ", ".join(f"{k} {v.shape}" for k, v in items.items())
    if not args.quiet:
        print(f"wrote {out}: {shapes}")
    return 0


def _need_keras():
    from .errors import MissingDependency
    from .verify import _import_keras
    try:
        _import_keras()
    except MissingDependency:
        raise CliError("this command needs TensorFlow and Keras "
                       "(pip install 'lstm-np[keras]')") from None


def verify(args):
    """Compare Keras and lstm_np on the same inputs; exit 1 if outside tolerance."""
    if not os.path.isfile(args.model):
        raise CliError(f"{args.model}: no such file")
    if args.plot:
        try:
            import matplotlib   # noqa: F401
        except ImportError:
            raise CliError("--plot needs matplotlib (pip install matplotlib)") from None
    _need_keras()
    from .verify import _load_keras, verify as run_verify

    kmodel = _load_keras(args.model)
    x = None
    if args.input:
        from .io import from_keras
        xs = [np.asarray(v) for v in _read_inputs(args.input, from_keras(kmodel))]
        x = xs[0] if len(xs) == 1 else xs
    report = run_verify(kmodel, x=x, samples=args.samples, seed=args.seed,
                        tolerance=args.tolerance)
    print(report)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report.to_dict(), fh, indent=2)
    if args.plot:
        _plot(report, args.plot)
    return 0 if report.ok else 1


def _plot(report, path, n_samples=3):
    """Keras vs lstm_np for a few samples (first output, first feature) + error per step."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = 0
    want, have = report.keras_outputs[k], report.lstm_np_outputs[k]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for i in range(min(n_samples, want.shape[0])):
        w = want[i].reshape(want.shape[1], -1)[:, 0] if want.ndim == 3 else want[i].ravel()
        h = have[i].reshape(have.shape[1], -1)[:, 0] if have.ndim == 3 else have[i].ravel()
        line, = ax1.plot(w, "-", lw=2, alpha=0.6, label=f"Keras, sample {i}")
        ax1.plot(h, "--", color=line.get_color(), marker=".", label=f"lstm_np, sample {i}")
    ax1.set_title(f"{report.checks[k].name}: " +
                  ("timestep vs feature 0" if want.ndim == 3 else "output units"))
    ax1.set_xlabel("timestep" if want.ndim == 3 else "unit")
    ax1.legend(fontsize=7)
    floor = 1e-13   # zero errors are drawn at this floor of the log scale
    seq = any(c.error_per_timestep is not None for c in report.checks)
    for j, c in enumerate(report.checks):
        if not seq:
            ax2.bar(j, max(c.max_abs_error, floor), tick_label=c.name)
        elif c.error_per_timestep is not None:
            ax2.plot(np.maximum(c.error_per_timestep, floor), marker="o", label=c.name)
        else:
            ax2.axhline(max(c.max_abs_error, floor), ls="--", color=f"C{j}",
                        label=f"{c.name} (no time axis)")
    ax2.axhline(report.checks[0].atol, color="r", ls=":", lw=1, label="atol")
    ax2.set_yscale("log")
    ax2.set_xlabel("timestep" if seq else "output")
    ax2.set_title("max abs error" + (" per timestep" if seq else ""))
    ax2.legend(fontsize=7)
    fig.suptitle(f"{report.model_name}: {'PASS' if report.ok else 'FAIL'}")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def bench(args):
    """Median latency of predict (lstm_np, and Keras when installed)."""
    from .verify import make_inputs

    model = _load(args.model)
    if args.timesteps is not None:
        fixed = {n: s[1] for n, s in zip(model.input_names, (
            model.get_layer(n).batch_shape for n in model.input_names))
            if s is not None and len(s) > 2 and s[1] is not None}
        if fixed and any(t != args.timesteps for t in fixed.values()):
            raise CliError(f"--timesteps {args.timesteps}: the model's input length is fixed "
                           f"({', '.join(f'{n}: {t}' for n, t in fixed.items())})")
    xs = make_inputs(model, samples=args.batch_size, seed=0, timesteps=args.timesteps)
    x = xs[0] if len(xs) == 1 else xs
    model.predict(x, batch_size=args.batch_size)   # warm-up: numba compile / cache load

    def median_time(fn):
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return float(np.median(times))

    def show(who, t):
        print(f"{who:<8} batch {args.batch_size}: {t * 1e3:9.3f} ms/batch, "
              f"{args.batch_size / max(t, 1e-12):12,.1f} samples/s (median of {args.repeats})")

    show("lstm_np", median_time(lambda: model.predict(x, batch_size=args.batch_size)))
    if args.model.endswith(".npz"):
        print("keras    skipped: an lstm_np .npz cannot be loaded by Keras")
        return 0
    try:
        _need_keras()
    except CliError:
        print("keras    not installed: skipped")
        return 0
    from .verify import _load_keras
    try:
        kmodel = _load_keras(args.model)
    except Exception as exc:   # e.g. an lstm_np .npz
        print(f"keras    skipped: cannot load {args.model} with Keras "
              f"({type(exc).__name__})")
        return 0
    kmodel.predict(x, batch_size=args.batch_size, verbose=0)
    show("keras", median_time(lambda: kmodel.predict(x, batch_size=args.batch_size,
                                                      verbose=0)))
    return 0


def _encode(seq, alphabet, maxlen):
    x = np.zeros((1, maxlen, 1), np.float32)
    seq = seq[-maxlen:]
    for j, ch in enumerate(seq):
        x[0, maxlen - len(seq) + j, 0] = (alphabet.index(ch) + 1) / len(alphabet)
    return x


DEMO_QUERIES = ["A", "QR", "KLM", "BCDE", "UVWXY", "F", "HIJ", "ST"]


def demo(args):
    """Load the bundled alphabet model and print next-letter predictions."""
    from . import load
    from ._jit import HAVE_NUMBA, JIT_ENABLED

    with open(os.path.join(DATA_DIR, "alphabet.json")) as fh:
        meta = json.load(fh)
    alphabet, maxlen = meta["alphabet"], meta["maxlen"]
    model = load(os.path.join(DATA_DIR, "alphabet.keras"))
    model.predict(_encode("AB", alphabet, maxlen))   # warm-up (numba compile / cache load)
    for q in DEMO_QUERIES:
        probs = model.predict(_encode(q, alphabet, maxlen))
        print(f"{list(q)} -> {alphabet[int(np.argmax(probs))]}")
    n = args.repeat
    x = _encode("QR", alphabet, maxlen)
    start = time.perf_counter()
    for _ in range(n):
        model.predict(x)
    per = (time.perf_counter() - start) / n
    if JIT_ENABLED:
        how = "without TensorFlow"
    else:
        why = "LSTM_NP_DISABLE_JIT is set" if HAVE_NUMBA else "numba is not installed"
        how = f"without TensorFlow, without numba: plain NumPy, as {why}"
    print(f"time per prediction: {per * 1e6:.1f} us (mean of {n}, batch of 1, {how})")
    return 0


EPILOGS = {
    "convert": "example:\n  lstm-np convert model.keras model.npz\n"
               "  lstm-np convert model.h5 model64.npz --float64",
    "predict": "example:\n  lstm-np predict model.npz --input x.npy --output y.npy "
               "--batch-size 256",
    "verify": "example:\n  lstm-np verify model.keras --samples 16 --json report.json "
              "--plot report.png",
    "bench": "example:\n  lstm-np bench model.npz --batch-size 32 --timesteps 50",
    "demo": "example:\n  lstm-np demo --repeat 100",
}


def _number(kind, minimum, what):
    """An argparse ``type``: ``kind`` (int / float) at least ``minimum``; a bad value is a
    one-line error naming what was expected and what came."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}; received {text!r}") from None
        if not value >= minimum:   # also refuses nan
            raise argparse.ArgumentTypeError(f"expected {what}; received {text!r}")
        return value
    parse.__name__ = what   # argparse names the type in some messages
    return parse


POSITIVE = _number(int, 1, "an integer >= 1")
NON_NEGATIVE = _number(int, 0, "an integer >= 0")
TOLERANCE = _number(float, 0.0, "a number >= 0")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written, and every option's default shown (``None`` and off flags
    have none to show)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.option_strings and "%(default)" not in text and not any(
                action.default is v for v in (None, False, argparse.SUPPRESS)):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line, like every other error: ``lstm-np: error: ...`` (exit 2)."""
        sub = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        hint = f"lstm-np {sub} --help" if sub else "lstm-np --help"
        self.exit(2, f"lstm-np: error: {sub + ': ' if sub else ''}{message} (see {hint})\n")


def _parser():
    parser = _Parser(prog="lstm-np", description=DESCRIPTION)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(name, func, help_):
        p = sub.add_parser(name, help=help_, description=help_, epilog=EPILOGS[name],
                           formatter_class=_Formatter)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks on errors")
        p.set_defaults(func=func)
        return p

    def batch_size(p, default):
        p.add_argument("--batch-size", "--batch", dest="batch_size", type=POSITIVE,
                       default=default, metavar="N", help="samples per predict batch")

    p = add("convert", convert, "convert a .keras/.h5 model to lstm_np's .npz (no TensorFlow)")
    p.add_argument("input", help=".keras, .h5 or .npz model")
    p.add_argument("output", help="output .npz")
    p.add_argument("--float64", action="store_true", help="compute in float64")

    p = add("predict", predict, "run a model on inputs from a .npy/.npz file (no TensorFlow)")
    p.add_argument("model", help=".keras, .h5 or .npz model")
    p.add_argument("--input", required=True, help=".npy (memory-mapped) or .npz (one array "
                   "per model input, by input name)")
    p.add_argument("--output", help="output file, written under exactly this name: .npy or "
                   ".npz for one output, .npz for several (default predictions.npy, or "
                   "predictions.npz for several outputs)")
    batch_size(p, 32)
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary line")

    p = add("verify", verify, "compare Keras and lstm_np outputs (needs TensorFlow)")
    p.add_argument("model", help=".keras or .h5 model")
    p.add_argument("--input", help=".npy/.npz inputs (default: random inputs that fit)")
    p.add_argument("--samples", type=POSITIVE, default=8, metavar="N",
                   help="random samples to compare when --input is not given")
    p.add_argument("--seed", type=NON_NEGATIVE, default=0, metavar="N",
                   help="seed of the random inputs")
    p.add_argument("--tolerance", type=TOLERANCE, metavar="TOL",
                   help="atol = rtol for every output (default: 1e-5 for float32, 1e-12 "
                   "for float64)")
    p.add_argument("--json", help="write the report as JSON")
    p.add_argument("--plot", help="write a PNG: outputs overlaid + error per timestep "
                   "(needs matplotlib)")

    p = add("bench", bench, "time predict: lstm_np, and Keras when installed")
    p.add_argument("model", help=".keras, .h5 or .npz model")
    batch_size(p, 32)
    p.add_argument("--timesteps", type=POSITIVE, default=None, metavar="T",
                   help="input length, for models whose time dimension is not fixed "
                   "(default: 10)")
    p.add_argument("--repeats", type=POSITIVE, default=20, metavar="N",
                   help="timed runs; the median is shown")

    p = add("demo", demo, "run the bundled next-letter LSTM without TensorFlow")
    p.add_argument("--repeat", type=POSITIVE, default=200, metavar="N",
                   help="predictions to time")
    return parser


def main(argv=None):
    from .errors import LstmNpError

    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (CliError, LstmNpError, ValueError, OSError, NotImplementedError) as exc:
        if args.debug:
            raise
        code = exc.code if isinstance(exc, CliError) else 2
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"lstm-np: error: {msg}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":   # pragma: no cover
    sys.exit(main())
