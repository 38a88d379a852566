"""The ``lstm-np`` command, run as a user would (subprocesses of ``python -m lstm_np``)."""
import json
import os
import pty
import subprocess
import sys

import numpy as np
import pytest

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    "lstm_np", "data")
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")


def run(*args, check=None, cwd=None, stderr=subprocess.PIPE):
    """``python -m lstm_np ARGS``; returns the CompletedProcess (text)."""
    p = subprocess.run([sys.executable, "-m", "lstm_np", *map(str, args)], env=ENV,
                       stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=cwd,
                       timeout=120)
    if check is not None:
        assert p.returncode == check, (p.returncode, p.stdout, p.stderr)
    return p


def run_blocked(blocked, *args):
    """Run the CLI in a Python where the ``blocked`` modules cannot be imported."""
    code = ("import sys\n"
            f"for m in {list(blocked)!r}: sys.modules[m] = None\n"
            "from lstm_np.cli import main\n"
            f"sys.exit(main({list(map(str, args))!r}))\n")
    return subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True,
                          text=True, timeout=120)


def one_error_line(p, code=2):
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("lstm-np: error:")]
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr
    return lines[0]


@pytest.fixture(scope="module")
def alphabet(tmp_path_factory):
    """The bundled model converted to .npz (no TensorFlow), and an input file."""
    d = tmp_path_factory.mktemp("alphabet")
    p = run("convert", os.path.join(DATA, "alphabet.keras"), d / "a.npz", check=0)
    assert "Total params:" in p.stdout and "parameters" in p.stdout.splitlines()[-1]
    x = np.random.default_rng(0).uniform(0, 1, (300, 5, 1)).astype("float32")
    np.save(d / "x.npy", x)
    return d


# ---------------------------------------------------------------- no TensorFlow
@pytest.mark.parametrize("cmd", ["convert", "predict", "verify", "bench", "demo"])
def test_help_has_example(cmd):
    p = run(cmd, "--help", check=0)
    assert "example:" in p.stdout and f"lstm-np {cmd}" in p.stdout


def test_predict_matches_api_and_float64(alphabet):
    import lstm_np as ln
    run("predict", alphabet / "a.npz", "--input", alphabet / "x.npy", "--output",
        alphabet / "y.npy", "--batch-size", 64, check=0)
    model = ln.load(alphabet / "a.npz")
    x = np.load(alphabet / "x.npy")
    np.testing.assert_array_equal(np.load(alphabet / "y.npy"), model.predict(x, batch_size=64))
    p = run("convert", alphabet / "a.npz", alphabet / "a64.npz", "--float64", check=0)
    assert "float64" in p.stdout
    y64 = ln.load(alphabet / "a64.npz").predict(x.astype(np.float64))
    assert y64.dtype == np.float64
    np.testing.assert_allclose(y64, model.predict(x), atol=1e-5)


def test_progress_on_terminal_only(alphabet):
    args = ["predict", alphabet / "a.npz", "--input", alphabet / "x.npy", "--output",
            alphabet / "yp.npy", "--batch-size", 50]
    piped = run(*args, check=0)
    assert "samples" not in piped.stderr and piped.stderr.strip() == ""
    master, slave = pty.openpty()
    try:
        p = subprocess.run([sys.executable, "-m", "lstm_np", *map(str, args)], env=ENV,
                           stdout=subprocess.PIPE, stderr=slave, timeout=120)
        os.close(slave)
        slave = None
        out = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:   # EIO: the terminal closed
                break
            if not chunk:
                break
            out += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert p.returncode == 0
    text = out.decode()
    assert "300/300 samples" in text and "#" in text, text
    quiet = run(*args, "--quiet", check=0)
    assert quiet.stdout == ""


def test_bench_npz(alphabet):
    p = run("bench", alphabet / "a.npz", "--batch", 8, "--repeats", 3, check=0)
    assert "lstm_np" in p.stdout and "samples/s" in p.stdout and "ms/batch" in p.stdout


def test_error_paths(alphabet, tmp_path):
    missing = tmp_path / "nope.keras"
    for args in (["convert", missing, tmp_path / "o.npz"],
                 ["predict", missing, "--input", alphabet / "x.npy"],
                 ["predict", alphabet / "a.npz", "--input", tmp_path / "nope.npy"],
                 ["bench", missing],
                 ["verify", missing]):
        assert "no such file" in one_error_line(run(*args))
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a model at all")
    assert "unknown file format" in one_error_line(run("convert", junk, tmp_path / "o.npz"))
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 7, 2), np.float32))
    line = one_error_line(run("predict", alphabet / "a.npz", "--input", bad))
    assert "shape" in line
    one_error_line(run("predict", alphabet / "a.npz", "--input", alphabet / "x.npy",
                       "--batch-size", 0))
    debug = run("--debug", "predict", alphabet / "a.npz", "--input", bad)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_verify_without_tensorflow(alphabet):
    p = run_blocked(["tensorflow", "keras"], "verify", os.path.join(DATA, "alphabet.keras"))
    assert "TensorFlow" in one_error_line(p)
    p = run_blocked(["matplotlib"], "verify", os.path.join(DATA, "alphabet.keras"),
                    "--plot", alphabet / "p.png")
    assert "matplotlib" in one_error_line(p)


# ---------------------------------------------------------------- with Keras
@pytest.fixture(scope="module")
def keras_model(tmp_path_factory):
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    L = keras.layers
    d = tmp_path_factory.mktemp("keras_cli")
    inp = keras.Input((12, 3), name="x")
    h = L.LSTM(16, return_sequences=True, name="lstm")(L.Masking()(inp))
    seq = L.Dense(2, name="seq")(h)
    cls = L.Dense(4, activation="softmax", name="cls")(L.GRU(8, name="gru")(h))
    model = keras.Model(inp, [seq, cls], name="cli_model")
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    model.save(d / "m.keras")
    x = rng.normal(size=(40, 12, 3)).astype("float32")
    x[:5, :4] = 0.0   # masked leading steps
    np.save(d / "x.npy", x)
    return d, model, x


@pytest.mark.keras
def test_convert_predict_verify_round_trip(keras_model):
    d, model, x = keras_model
    run("convert", d / "m.keras", d / "m.npz", check=0)
    run("predict", d / "m.npz", "--input", d / "x.npy", "--output", d / "y.npz", check=0)
    want = model.predict(x, verbose=0)
    with np.load(d / "y.npz") as y:
        assert sorted(y.files) == ["cls", "seq"]
        np.testing.assert_allclose(y["seq"], want[0], atol=1e-5)
        np.testing.assert_allclose(y["cls"], want[1], atol=1e-5)
    pytest.importorskip("matplotlib")
    p = run("verify", d / "m.keras", "--input", d / "x.npy", "--json", d / "r.json",
            "--plot", d / "r.png", check=0)
    report = json.loads((d / "r.json").read_text())
    assert report["ok"] is True and report["samples"] == 40
    assert "OK" in p.stdout.splitlines()[-1]
    rows = {ln.split()[0]: ln.split() for ln in p.stdout.splitlines()[3:-1]}
    for out in report["outputs"]:
        row = rows[out["name"]]
        assert float(row[-6]) == pytest.approx(out["max_abs_error"], rel=1e-3, abs=1e-12)
        assert row[-1] == "PASS"
    by_name = {o["name"]: o for o in report["outputs"]}
    assert by_name["seq"]["worst_timestep"] is not None
    assert len(by_name["seq"]["error_per_timestep"]) == 12
    assert by_name["cls"]["argmax_agreement"] == 1.0
    png = (d / "r.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    import matplotlib.image
    assert matplotlib.image.imread(str(d / "r.png")).shape[0] > 100


@pytest.mark.keras
def test_verify_fails_outside_tolerance(keras_model):
    d, _, _ = keras_model
    p = run("verify", d / "m.keras", "--samples", 4, "--tolerance", 1e-15)
    assert p.returncode == 1
    assert "FAILED" in p.stdout.splitlines()[-1]


@pytest.mark.keras
def test_verify_api_generated_inputs(keras_model):
    import keras

    import lstm_np as ln
    d, model, _ = keras_model
    report = ln.verify(model, samples=6, seed=1)
    assert report.ok and report.samples == 6 and "PASS" in str(report)
    x = report.inputs[0]
    assert x.dtype == np.float32 and (x[:, 0] == 0).all(axis=-1).any()   # pre-padding
    emb = keras.Sequential([keras.Input((9,), dtype="int32"),
                            keras.layers.Embedding(20, 4, mask_zero=True),
                            keras.layers.LSTM(5), keras.layers.Dense(3, activation="softmax")])
    rep = ln.verify(emb, samples=5)
    ids = rep.inputs[0]
    assert ids.dtype.kind == "i" and ids.max() < 20
    assert rep.ok and rep.checks[0].argmax_agreement == 1.0
    assert json.loads(json.dumps(rep.to_dict()))["ok"] is True


# ------------------------------------------------------- issue 12: a new user's first hour
def main_lines(capsys, *args):
    """Run ``lstm-np ARGS`` in this process; returns (exit code, stdout, stderr)."""
    from lstm_np.cli import main
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:   # argparse
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("args, option, value", [
    (["demo", "--repeat", "0"], "--repeat", "0"),
    (["demo", "--repeat", "-5"], "--repeat", "-5"),
    (["bench", "m.npz", "--repeats", "0"], "--repeats", "0"),
    (["bench", "m.npz", "--batch", "0"], "--batch-size/--batch", "0"),
    (["bench", "m.npz", "--batch", "-1"], "--batch-size/--batch", "-1"),
    (["predict", "m.npz", "--input", "x.npy", "--batch-size", "0"], "--batch-size/--batch", "0"),
    (["verify", "m.keras", "--samples", "0"], "--samples", "0"),
    (["verify", "m.keras", "--seed", "-1"], "--seed", "-1"),
    (["verify", "m.keras", "--tolerance", "nan"], "--tolerance", "nan"),
    (["bench", "m.npz", "--timesteps", "x"], "--timesteps", "x"),
])
def test_numeric_options_are_validated(capsys, args, option, value):
    code, out, err = main_lines(capsys, *args)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"lstm-np: error: {args[0]}: argument {option}: expected ")
    assert f"received '{value}'" in lines[0]


def test_output_is_the_file_written(alphabet, capsys, tmp_path):
    code, _, err = main_lines(capsys, "predict", alphabet / "a.npz", "--input",
                              alphabet / "x.npy", "--output", tmp_path / "out.txt")
    assert code == 2 and "--output" in err and "expected a .npy or .npz file name" in err
    assert not list(tmp_path.iterdir())
    for name in ("out.npy", "out.npz"):
        code, out, _ = main_lines(capsys, "predict", alphabet / "a.npz", "--input",
                                  alphabet / "x.npy", "--output", tmp_path / name)
        assert code == 0 and out.startswith(f"wrote {tmp_path / name}: ")
        assert (tmp_path / name).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy", "out.npz"]


def test_shape_error_names_the_users_input(alphabet, capsys, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((100, 5), np.float32))
    code, _, err = main_lines(capsys, "predict", alphabet / "a.npz", "--input",
                              tmp_path / "x.npy", "--batch-size", 32)
    assert code == 2
    assert "received (100, 5)" in err and "(32, 5)" not in err


def test_npz_input_names(alphabet, capsys, tmp_path):
    x = np.load(alphabet / "x.npy")[:10]
    np.savez(tmp_path / "unnamed.npz", x)
    code, out, err = main_lines(capsys, "predict", alphabet / "a.npz", "--input",
                                tmp_path / "unnamed.npz", "--output", tmp_path / "y.npy")
    assert code == 0
    assert "note:" in err and "['arr_0'] do not match the model's input(s) ['input_layer']" in err
    np.savez(tmp_path / "two.npz", a=x, b=x)
    code, _, err = main_lines(capsys, "predict", alphabet / "a.npz", "--input",
                              tmp_path / "two.npz")
    assert code == 2 and "arrays ['a', 'b'] do not match the model's inputs" in err


def test_bench_timesteps_of_a_fixed_length_model(alphabet, capsys):
    code, _, err = main_lines(capsys, "bench", alphabet / "a.npz", "--timesteps", 50)
    assert code == 2
    assert "--timesteps 50: the model's input length is fixed (input_layer: 5)" in err
    code, out, _ = main_lines(capsys, "bench", alphabet / "a.npz", "--timesteps", 5,
                              "--repeats", 1, "--batch", 2)
    assert code == 0 and "batch 2:" in out


@pytest.mark.parametrize("cmd", ["convert", "predict", "verify", "bench", "demo"])
def test_help_shows_defaults_without_markup(cmd, capsys):
    code, out, _ = main_lines(capsys, cmd, "--help")
    assert code == 0
    assert "``" not in out and "`" not in out
    for option in {"predict": ["--batch-size N, --batch N"], "bench": [
            "--batch-size N, --batch N", "--repeats N"], "verify": ["--samples N", "--seed N"],
            "demo": ["--repeat N"], "convert": []}[cmd]:
        assert option in out
    if cmd != "convert":
        assert "(default: " in out
    code, out, _ = main_lines(capsys, "--help")
    assert "`" not in out


def _readme_demo_block():
    readme = open(os.path.join(os.path.dirname(DATA), os.pardir, "README.md")).read()
    start = readme.index("lstm_np/data/alphabet.keras")
    block = readme[readme.index("```\n", start) + 4:]
    return block[:block.index("```")].rstrip("\n").splitlines()


def test_demo_prints_what_the_readme_shows(capsys):
    import re
    code, out, _ = main_lines(capsys, "demo", "--repeat", 3)
    assert code == 0
    got, want = out.rstrip("\n").splitlines(), _readme_demo_block()
    assert len(got) == len(want), (got, want)
    assert got[:-1] == want[:-1]
    from lstm_np import JIT_ENABLED
    last = want[-1] if JIT_ENABLED else want[-1].replace(
        "without TensorFlow)", "without TensorFlow, without numba: plain NumPy, as ")
    pattern = re.sub(r"[0-9]+\\\.[0-9]+", "[0-9.]+", re.escape(last)).replace("200", "3")
    if not JIT_ENABLED:
        pattern += ".*"
    assert re.fullmatch(pattern, got[-1]), (got[-1], want[-1])


def test_demo_says_when_it_runs_without_numba():
    env = dict(ENV, LSTM_NP_DISABLE_JIT="1")
    p = subprocess.run([sys.executable, "-m", "lstm_np", "demo", "--repeat", "2"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[-1].endswith(
        "without TensorFlow, without numba: plain NumPy, as LSTM_NP_DISABLE_JIT is set)")
