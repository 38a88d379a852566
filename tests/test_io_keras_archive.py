"""Keras 3 .keras archives: read in memory, weight paths, and loud refusals."""
import io
import json
import zipfile

import numpy as np
import pytest

import lstm_np as ln
from tests.keras_routes import TOL, max_error

pytestmark = pytest.mark.keras


@pytest.fixture(scope="module")
def keras():
    import keras
    return keras


def test_weights_found_by_name_when_layers_repeat(keras, tmp_path):
    """Several layers of one class (lstm, lstm_1, ...) declared out of creation order."""
    L = keras.layers
    late = L.LSTM(3, return_sequences=True, name="zz_first_created")
    inp = keras.Input((5, 2))
    a = L.LSTM(3, return_sequences=True, name="b")(inp)
    b = late(inp)
    y = L.Dense(2, name="a")(L.Add()([a, b]))
    model = keras.Model(inp, y)
    x = np.random.default_rng(0).random((4, 5, 2)).astype("float32")
    path = str(tmp_path / "m.keras")
    model.save(path)
    assert max_error(ln.load(path).predict(x), model.predict(x, verbose=0)) <= TOL


def test_archive_never_extracted(keras, tmp_path, monkeypatch):
    model = keras.Sequential([keras.Input((3, 2)), keras.layers.LSTM(2)])
    path = str(tmp_path / "m.keras")
    model.save(path)
    monkeypatch.setattr(zipfile.ZipFile, "extract", lambda *a, **k: pytest.fail("extract"))
    monkeypatch.setattr(zipfile.ZipFile, "extractall", lambda *a, **k: pytest.fail("extract"))
    ln.load(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


def test_lambda_is_refused(keras, tmp_path):
    L = keras.layers
    model = keras.Sequential([keras.Input((3, 2)), L.LSTM(2), L.Lambda(lambda t: t * 2)])
    path = str(tmp_path / "lam.keras")
    model.save(path)
    with pytest.raises(ln.UnsupportedKerasFeature, match=r"lambda.*Lambda.*never executes"):
        ln.load(path)
    with pytest.raises(ln.UnsupportedKerasFeature, match="Lambda"):
        ln.from_keras(model)


def test_unsupported_layer_and_option_are_named(keras, tmp_path):
    L = keras.layers
    conv = keras.Sequential([keras.Input((6, 2)), L.Conv1D(2, 3, name="my_conv")])
    with pytest.raises(ln.UnsupportedKerasFeature, match=r"my_conv.*Conv1D"):
        ln.from_keras(conv)
    lora = keras.Sequential([keras.Input((4,)), L.Dense(3, name="d", lora_rank=2)])
    path = str(tmp_path / "lora.keras")
    lora.save(path)
    with pytest.raises(ln.UnsupportedKerasFeature, match=r"Dense 'd'.*lora_rank"):
        ln.load(path)
    lstm = keras.Sequential([keras.Input((4, 2)), L.LSTM(2, activation="softmax", name="l")])
    with pytest.raises(ln.UnsupportedKerasFeature, match=r"LSTM 'l' activation"):
        ln.from_keras(lstm)


def _rewrite(path, out, edit):
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "config.json" and edit is not None:
                cfg = json.loads(data)
                edit(cfg)
                data = json.dumps(cfg).encode()
            if name == "model.weights.h5" and edit is None:
                data = data[: len(data) // 2]
            dst.writestr(name, data)


def test_malformed_archives_raise_load_error(keras, tmp_path):
    model = keras.Sequential([keras.Input((3, 2)), keras.layers.LSTM(2, name="l")])
    path = str(tmp_path / "m.keras")
    model.save(path)
    _rewrite(path, str(tmp_path / "trunc.keras"), None)
    with pytest.raises(ln.LoadError):
        ln.load(str(tmp_path / "trunc.keras"))

    def wrong_units(cfg):
        cfg["config"]["layers"][1]["config"]["units"] = 3
    _rewrite(path, str(tmp_path / "units.keras"), wrong_units)
    with pytest.raises(ln.LoadError, match=r"'l'.*LSTM"):
        ln.load(str(tmp_path / "units.keras"))

    def subclassed(cfg):
        cfg["class_name"] = "MyModel"
    _rewrite(path, str(tmp_path / "sub.keras"), subclassed)
    with pytest.raises(ln.UnsupportedKerasFeature, match="MyModel"):
        ln.load(str(tmp_path / "sub.keras"))
    with open(path, "rb") as fh:   # file objects work too (in memory)
        buf = io.BytesIO(fh.read())
    from lstm_np.io import load_keras_archive
    assert load_keras_archive(buf).predict(np.ones((1, 3, 2))).shape == (1, 2)
