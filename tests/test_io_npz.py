"""lstm_np's own .npz format: round trips, NumPy-only readability, versioning, errors."""
import json

import numpy as np
import pytest

import lstm_np as ln
from lstm_np.io.npz import FORMAT_VERSION, HEADER_KEY
from lstm_np.layers import Bidirectional, Dense, Embedding, InputLayer, TimeDistributed


def _model(rng):
    emb = Embedding(12, 4, mask_zero=True, name="emb")
    emb.set_weights([rng.standard_normal((12, 4))])
    lstm = ln.LSTM(5, return_sequences=True, name="lstm")
    lstm.set_weights([rng.standard_normal(s) * 0.5 for s in lstm.weight_shapes(4)])
    f, b = (ln.LSTM(3, return_sequences=True, name=n) for n in ("f", "b"))
    b.go_backwards = True
    bi = Bidirectional(f, b, merge_mode="sum", name="bi")
    bi.set_weights([rng.standard_normal(s) * 0.5 for s in f.weight_shapes(5)] * 2)
    dense = Dense(2, activation="softmax", name="dense")
    dense.set_weights([rng.standard_normal((3, 2)), rng.standard_normal(2)])
    td = TimeDistributed(dense, name="td")
    layers = [InputLayer(batch_shape=(None, None), name="ids"), emb, lstm, bi, td]
    nodes = [{"layer": "ids", "args": None}] + [
        {"layer": la.name, "args": [k, 0]} for k, la in enumerate(layers[1:])]
    return ln.Model(layers, nodes, inputs=[[0, 0]], outputs=[4, 0], name="hand_made")


def test_round_trip_is_exact(tmp_path, rng):
    model = _model(rng)
    x = rng.integers(0, 12, (3, 6))
    x[0, :2] = 0
    path = tmp_path / "m.npz"
    model.save(path)
    again = ln.load(path)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert again.predict(x).shape == (3, 6, 2)
    assert [la.name for la in again.layers] == [la.name for la in model.layers]
    assert again.count_params() == model.count_params()


def test_readable_with_numpy_alone(tmp_path, rng):
    path = tmp_path / "m.npz"
    _model(rng).save(path)
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data[HEADER_KEY]))
        assert header["format"] == "lstm_np"
        # no explicit mask or op nodes: version 1, which older lstm_np versions read
        assert header["format_version"] == 1 < FORMAT_VERSION
        assert header["model"]["layers"][1]["class_name"] == "Embedding"
        assert data["w1_0"].shape == (12, 4)


def test_newer_format_version_is_refused(tmp_path, rng):
    path = tmp_path / "m.npz"
    _model(rng).save(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays[HEADER_KEY]))
    header["format_version"] = FORMAT_VERSION + 1
    arrays[HEADER_KEY] = np.array(json.dumps(header))
    np.savez(tmp_path / "future.npz", **arrays)
    with pytest.raises(ln.LoadError, match="newer lstm_np"):
        ln.load(tmp_path / "future.npz")


def test_not_a_model_file(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ln.LoadError, match="neither"):
        ln.load(tmp_path / "plain.npz")
    (tmp_path / "junk.bin").write_bytes(b"hello world")
    with pytest.raises(ln.LoadError, match="unknown file format"):
        ln.load(tmp_path / "junk.bin")
    with pytest.raises(ln.LoadError, match="no such file"):
        ln.load(tmp_path / "missing.keras")


def test_unknown_layer_in_npz_is_refused(tmp_path, rng):
    path = tmp_path / "m.npz"
    _model(rng).save(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays[HEADER_KEY]))
    header["model"]["layers"][2]["class_name"] = "Lambda"
    arrays[HEADER_KEY] = np.array(json.dumps(header))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ln.UnsupportedKerasFeature, match="Lambda"):
        ln.load(tmp_path / "bad.npz")
