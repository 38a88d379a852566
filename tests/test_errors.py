"""One family of errors: the public API raises only :class:`lstm_np.LstmNpError` subclasses
for bad input, bad files and missing optional packages, each keeping the built-in base a
caller would catch (``ValueError``, ``TypeError``, ``ImportError``, ``NotImplementedError``)
and a message naming what was expected and what came (issue 12).

``test_error_classes_and_messages`` pins the class and message of each case the issue
lists; ``test_public_api_walk`` calls every public entry point with a set of bad values and
accepts only family members (no bare ``LstmNpError``) or success.
"""
import io
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import lstm_np as ln
from lstm_np.layers import LSTM, Dense, InputLayer

ALPHABET = os.path.join(os.path.dirname(ln.__file__), "data", "alphabet.keras")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BASES = {ln.UnsupportedKerasFeature: ValueError, ln.LoadError: ValueError,
         ln.InputError: ValueError, ln.ConfigError: ValueError, ln.ArgumentError: TypeError,
         ln.MissingDependency: ImportError, ln.GradientNotSupported: NotImplementedError}


def _weights(rng, d=4, u=8):
    return [rng.normal(size=(d, 4 * u)), rng.normal(size=(u, 4 * u)), rng.normal(size=4 * u)]


def _layer(rng, **kw):
    layer = ln.LSTM(8, **kw)
    layer.set_weights(_weights(rng))
    return layer


def _stateful_after_batch_of_2(rng):
    layer = _layer(rng, stateful=True)
    layer(np.zeros((2, 3, 4), np.float32))
    return layer


def _streamed_batch_of_2(rng):
    """The issue's session: five steps of a batch of 2."""
    layer = _layer(rng, stateful=True)
    for _ in range(5):
        layer.step(rng.normal(size=(2, 4)).astype(np.float32))
    return layer


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    lstm, dense = LSTM(8, name="lstm"), Dense(3, name="d")
    lstm.set_weights(_weights(rng))
    dense.set_weights([rng.normal(size=(8, 3)), rng.normal(size=3)])
    layers = [InputLayer(batch_shape=(None, 5, 4), name="x"), lstm, dense]
    nodes = [{"layer": "x", "args": None}, {"layer": "lstm", "args": [0, 0]},
             {"layer": "d", "args": [1, 0]}]
    return ln.Model(layers, nodes, inputs=[[0, 0]], outputs=[2, 0], name="m")


def _unsupported_zip(tmp_path):
    """A flipped byte in a .keras file: a member's compression method that zipfile cannot
    read (it raised a bare NotImplementedError when the member was opened)."""
    import struct
    data = bytearray(open(ALPHABET, "rb").read())
    for sig, off in ((b"PK\x01\x02", 10), (b"PK\x03\x04", 8)):
        i = data.find(sig)
        struct.pack_into("<H", data, i + off, 99)   # the first member: metadata.json
    path = tmp_path / "flipped.keras"
    path.write_bytes(bytes(data))
    return path


CASES = [
    # (id, call(rng, model, tmp_path), class, message pattern)
    ("units=0", lambda r, m, t: ln.LSTM(0), ln.ConfigError,
     r"units must be a positive integer; received 0"),
    ("unknown kwarg", lambda r, m, t: ln.GRU(4, bogus=1), ln.ArgumentError,
     r"unknown argument\(s\) \['bogus'\]"),
    ("set_weights shape", lambda r, m, t: ln.LSTM(8).set_weights(_weights(r, u=6)),
     ln.InputError, r"LSTM 'lstm\w*': kernel must have shape \(4, 32\); received \(4, 24\)"),
    ("set_weights count", lambda r, m, t: ln.LSTM(8).set_weights(_weights(r)[:2]),
     ln.InputError, r"expects 3 weight arrays.*received 2"),
    ("set_weights None", lambda r, m, t: ln.LSTM(8).set_weights(None), ln.ArgumentError,
     r"set_weights expects a list of arrays; received NoneType"),
    ("input rank", lambda r, m, t: _layer(r)(np.zeros((2, 4))), ln.InputError,
     r"expects input of shape \(batch, timesteps, 4\); received \(2, 4\)"),
    ("input features", lambda r, m, t: _layer(r)(np.zeros((2, 3, 5))), ln.InputError,
     r"\(batch, timesteps, 4\); received \(2, 3, 5\)"),
    ("mask shape", lambda r, m, t: _layer(r)(np.zeros((2, 3, 4)), mask=np.ones((2, 4))),
     ln.InputError, r"mask must have shape \(2, 3\) \(batch, timesteps\); received \(2, 4\)"),
    ("initial_state shape", lambda r, m, t: _layer(r)(
        np.zeros((2, 3, 4)), initial_state=[np.zeros((2, 8)), np.zeros((2, 7))]),
     ln.InputError, r"initial_state c must have shape \(2, 8\); received \(2, 7\)"),
    ("initial_state kind", lambda r, m, t: _layer(r)(np.zeros((2, 3, 4)), initial_state=5),
     ln.ArgumentError, r"initial_state expects a list of arrays; received int"),
    ("call kwarg", lambda r, m, t: _layer(r)(np.zeros((2, 3, 4)), bogus=1), ln.ArgumentError,
     r"unknown call argument\(s\) \['bogus'\]"),
    ("stateful batch", lambda r, m, t: _stateful_after_batch_of_2(r)(np.zeros((3, 3, 4))),
     ln.InputError, r"stateful with batch size 2; received a batch of 3 .*reset_states"),
    ("step batch", lambda r, m, t: _streamed_batch_of_2(r).step(np.zeros((3, 4), np.float32)),
     ln.InputError, r"stateful with batch size 2; received a batch of 3 .*reset_states"),
    ("no weights", lambda r, m, t: ln.LSTM(8)(np.zeros((2, 3, 4))), ln.InputError,
     r"has no weights: call set_weights\(\) first"),
    ("predict rank", lambda r, m, t: m.predict(np.zeros((2, 5))), ln.InputError,
     r"input 'x' must have shape \(None, 5, 4\) \(None = any\); received \(2, 5\)"),
    ("predict batch_size", lambda r, m, t: m.predict(np.zeros((2, 5, 4)), batch_size=0),
     ln.InputError, r"batch_size must be positive \(an integer >= 1\); received 0"),
    ("predict kwarg", lambda r, m, t: m.predict(np.zeros((2, 5, 4)), steps=3),
     ln.ArgumentError, r"predict: unknown keyword argument\(s\) \['steps'\]"),
    ("get_layer", lambda r, m, t: m.get_layer("nope"), ln.ConfigError,
     r"no layer named 'nope'; the model's layers are \['x', 'lstm', 'd'\]"),
    ("d_outputs", lambda r, m, t: m.gradients(np.zeros((2, 5, 4)), np.zeros((2, 4))),
     ln.InputError, r"must have the output's shape \(2, 3\); received \(2, 4\)"),
    ("graph", lambda r, m, t: ln.Model(m.layers, [{"layer": "x", "args": None},
                                                  {"layer": "lstm", "args": [5, 0]}],
                                       [[0, 0]], [1, 0]),
     ln.ConfigError, r"uses tensor \[5, 0\] that is not computed before it"),
    ("save None", lambda r, m, t: m.save(None), ln.ArgumentError,
     r"save expects a path or a binary file object; received NoneType"),
    ("load None", lambda r, m, t: ln.load(None), ln.ArgumentError,
     r"load expects a path .*, a binary file object or bytes; received NoneType"),
    ("load text file", lambda r, m, t: ln.load(open(ALPHABET)), ln.ArgumentError,
     r"alphabet.keras is opened in text mode; expected a binary file \(open\(path, 'rb'\)\)"),
    ("load missing", lambda r, m, t: ln.load(t / "missing.keras"), ln.LoadError,
     r"missing.keras: no such file"),
    ("load junk bytes", lambda r, m, t: ln.load(b"junk"), ln.LoadError,
     r"<4 bytes>: unknown file format \(expected .keras, .h5 or lstm_np .npz\)"),
    ("zip compression", lambda r, m, t: ln.load(_unsupported_zip(t)), ln.LoadError,
     r"member metadata.json uses compression method 99; expected one of 0 \(stored\), "
     r"8 \(deflated\)"),
    ("from_keras", lambda r, m, t: ln.from_keras(None), ln.ArgumentError,
     r"from_keras expects a Keras Model; received NoneType"),
    ("gradients of StackedRNN", lambda r, m, t: _stacked_model(r).gradients(
        np.zeros((1, 2, 4)), np.zeros((1, 8))), ln.GradientNotSupported,
     r"gradients: layer 'rnn' of class RNN has no backward pass"),
]


def _stacked_model(rng):
    from lstm_np.layers import StackedRNN
    rnn = StackedRNN([LSTM(8, name="a"), LSTM(8, name="b")], name="rnn")
    rnn.set_weights(_weights(rng) + _weights(rng, d=8))
    return ln.Model([InputLayer(batch_shape=(None, None, 4), name="x"), rnn],
                    [{"layer": "x", "args": None}, {"layer": "rnn", "args": [0, 0]}],
                    [[0, 0]], [1, 0])


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_error_classes_and_messages(case, model, tmp_path):
    _, call, cls, pattern = case
    with pytest.raises(cls, match=pattern) as info:
        call(np.random.default_rng(1), model, tmp_path)
    exc = info.value
    assert isinstance(exc, ln.LstmNpError) and isinstance(exc, BASES.get(type(exc), cls))
    assert isinstance(exc, BASES[cls])   # `except ValueError` (...) still catches it


def test_step_after_reset_takes_a_new_batch_size():
    layer = _streamed_batch_of_2(np.random.default_rng(2))
    layer.reset_states()
    assert layer.step(np.zeros((3, 4), np.float32)).shape == (3, 8)


BAD = [None, "abc", -1, 0, 1.5, True, [], [1, 2], {}, object(), np.zeros(2),
       np.zeros((2, 3, 5)), np.full((2, 3, 4), np.nan), np.array(["a"]), np.zeros((0, 3, 4)),
       np.zeros((2, 0, 4)), [np.zeros((2, 8))], np.zeros((2, 3, 4), dtype=object)]


def _walk_calls(model):
    rng = np.random.default_rng(3)
    x = np.zeros((2, 3, 4), np.float32)
    yield "LSTM(units)", lambda v: ln.LSTM(v)
    for kw in ("activation", "recurrent_activation", "dtype"):
        yield f"GRU({kw})", lambda v, kw=kw: ln.GRU(4, **{kw: v})
    yield "SimpleRNN(activation)", lambda v: ln.SimpleRNN(4, activation=v)
    yield "set_weights", lambda v: ln.LSTM(8).set_weights(v)
    yield "set_weights[0]", lambda v: ln.LSTM(8).set_weights([v] + _weights(rng)[1:])
    yield "call x", lambda v: _layer(rng)(v)
    yield "call mask", lambda v: _layer(rng)(x, mask=v)
    yield "call initial_state", lambda v: _layer(rng)(x, initial_state=v)
    yield "forward x", lambda v: _layer(rng).forward(v, keep=True)
    yield "backward d_outputs", lambda v: _layer(rng).backward(
        v, None, _layer(rng).forward(x, keep=True)[2])
    yield "backward cache", lambda v: _layer(rng).backward(np.zeros((2, 8)), None, v)
    yield "step", lambda v: _layer(rng).step(v)
    yield "step states", lambda v: _layer(rng).step(np.zeros((2, 4)), states=v)
    yield "reset_states", lambda v: _layer(rng, stateful=True).reset_states(v)
    yield "stateful call", lambda v: _stateful_after_batch_of_2(rng)(v)
    yield "predict", lambda v: model.predict(v)
    yield "predict batch_size", lambda v: model.predict(np.zeros((2, 5, 4)), batch_size=v)
    yield "model call", lambda v: model(v)
    yield "gradients x", lambda v: model.gradients(v, np.zeros((2, 3)))
    yield "gradients d", lambda v: model.gradients(np.zeros((2, 5, 4)), v)
    yield "input_gradients", lambda v: model.input_gradients(v)
    yield "input_gradients class", lambda v: model.input_gradients(np.zeros((2, 5, 4)),
                                                                   class_index=v)
    yield "get_layer", lambda v: model.get_layer(v)
    yield "save", lambda v: model.save(v) if not isinstance(v, str) else None
    yield "load", lambda v: ln.load(v) if not isinstance(v, str) else None
    yield "from_keras", lambda v: ln.from_keras(v)
    yield "Model layers", lambda v: ln.Model(v, [], [], [])
    yield "Model nodes", lambda v: ln.Model(model.layers, v, [[0, 0]], [2, 0])


def test_public_api_walk(model):
    escaped = []
    for name, call in _walk_calls(model):
        for v in BAD:
            try:
                call(v)
            except ln.LstmNpError as exc:
                if type(exc) is ln.LstmNpError or not str(exc):
                    escaped.append(f"{name}({_short(v)}): bare {exc!r}")
            except Exception as exc:   # noqa: BLE001 - the point of the test
                escaped.append(f"{name}({_short(v)}): {type(exc).__name__}: {exc}")
    assert not escaped, "\n".join(escaped)


def _short(v):
    return f"array{v.shape} {v.dtype}" if isinstance(v, np.ndarray) else repr(v)[:30]


BLOCK = textwrap.dedent("""
    import sys
    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in sys.argv[1].split(","):
                raise ImportError(f"blocked import of {name}")
    sys.meta_path.insert(0, _Block())
    import lstm_np as ln
    try:
        exec(sys.argv[2])
    except ln.MissingDependency as exc:
        assert isinstance(exc, ImportError)
        print("MissingDependency:", exc)
""")


@pytest.mark.parametrize("blocked, code, match", [
    ("tensorflow,keras,tf_keras", f"ln.verify({ALPHABET!r})", "verify needs TensorFlow and "
     "Keras to run the Keras model (pip install 'lstm-np[keras]')"),
    ("h5py", f"ln.load({ALPHABET!r})", "reading .keras and .h5 files needs h5py "
     "(pip install h5py)"),
])
def test_missing_optional_packages(blocked, code, match):
    proc = subprocess.run([sys.executable, "-c", BLOCK, blocked, code], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr
    assert "MissingDependency: " + match in proc.stdout, proc.stdout


def test_zip_members_are_read_in_memory_only(tmp_path):
    """``load`` of a file object leaves it open and reads nothing else."""
    buf = io.BytesIO(open(ALPHABET, "rb").read())
    ln.load(buf)
    assert not buf.closed and zipfile.is_zipfile(buf)
