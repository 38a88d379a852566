"""Helpers for tests against real Keras: brief training and the comparison of every route.

Imported only by tests marked ``keras``; the TensorFlow import happens in the caller.
"""
import os

import numpy as np

import lstm_np as ln

TOL = 1e-5   # float32 max abs error vs model.predict


def flat(out):
    if isinstance(out, dict):
        return [out[k] for k in sorted(out)]
    return list(out) if isinstance(out, (list, tuple)) else [out]


def max_error(ours, theirs):
    """Max abs difference over an output structure; checks shapes, dtypes and structure."""
    a, b = flat(ours), flat(theirs)
    assert type(ours) is type(theirs) or (isinstance(ours, np.ndarray) and isinstance(
        theirs, np.ndarray)), (type(ours), type(theirs))
    assert len(a) == len(b)
    err = 0.0
    for x, y in zip(a, b):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape, (x.shape, y.shape)
        assert x.dtype == y.dtype, (x.dtype, y.dtype)
        err = max(err, float(np.max(np.abs(x.astype(np.float64) - y))) if x.size else 0.0)
    return err


def fit_briefly(model, x, y, loss="mse", batch_size=8):
    """One epoch on tiny data so weights are realistic (not initial values)."""
    model.compile(optimizer="adam", loss=loss)
    model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0)
    return model


def randomize(model, seed=0, scale=0.5):
    """Random realistic weights instead of training, for graphs too slow to compile a
    training step for (many recurrent layers); same role as a brief fit."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, scale, w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    return model


def route_models(model, tmp_path, tag, keras2=False):
    """lstm_np models through every route: live, .keras (Keras 3), .h5, .npz round trip."""
    out = {"live": ln.from_keras(model)}
    base = os.path.join(str(tmp_path), tag)
    if not keras2:
        model.save(base + ".keras")
        out["keras"] = ln.load(base + ".keras")
    model.save(base + ".h5")
    out["h5"] = ln.load(base + ".h5")
    out["live"].save(base + "_np.npz")
    out["npz"] = ln.load(base + "_np.npz")
    return out


def check_routes(model, x, tmp_path, tag, keras2=False, tol=TOL, batch_size=None,
                 reference="predict"):
    """Compare ``model.predict(x)`` with lstm_np through every route; returns max errors.

    ``reference="call"`` compares with the eager ``model(x)`` instead (used where Keras's
    own ``predict`` is wrong; each such use says why).
    """
    if reference == "call":
        want = model(x)
        want = [np.asarray(w) for w in want] if isinstance(want, (list, tuple)) else \
            np.asarray(want)
    else:
        want = model.predict(x, verbose=0, batch_size=batch_size)
    errors = {}
    for route, ours in route_models(model, tmp_path, tag, keras2).items():
        got = ours.predict(x, batch_size=batch_size)
        errors[route] = max_error(got, want)
        assert errors[route] <= tol, (tag, route, errors[route])
    ERRORS[("k2" if keras2 else "k3") + ":" + tag] = max(errors.values())
    return errors


ERRORS = {}
