"""Build real Keras models that mirror a drawn layer configuration (test-only helper).

Imports Keras lazily, so that importing this module never needs TensorFlow.
"""
import contextlib
import json
import os

import numpy as np

RECURRENT_ARGS = ("activation", "recurrent_activation", "use_bias", "return_sequences",
                  "go_backwards", "zero_output_for_mask")


def keras_rnn_model(cfg, keras_module=None, layer_class="LSTM", n_states=2, extra=None):
    """A functional model ``[x, (mask), (*initial states)] -> [output, *states]``.

    ``cfg`` is a ``tests.strategies.rnn_configs`` draw. The mask, when present, is fed as an
    explicit boolean input (arbitrary patterns, fully masked rows included).
    """
    if keras_module is None:
        import keras as keras_module
    K = keras_module
    B, T, D, U = cfg["batch"], cfg["timesteps"], cfg["input_dim"], cfg["units"]
    dtype = cfg["dtype"]
    stateful = cfg.get("stateful", False)
    shape_kw = dict(batch_shape=(B, T, D)) if stateful else dict(shape=(T, D))
    if stateful and K.__name__.startswith("tf_keras"):
        shape_kw = dict(batch_input_shape=(B, T, D)) if False else dict(batch_size=B, shape=(T, D))
    x_in = K.Input(dtype=dtype, name="x", **shape_kw)
    inputs, call_kw = [x_in], {}
    if cfg["mask_kind"] != "none":
        m_in = (K.Input(batch_shape=(B, T), dtype="bool", name="mask") if stateful
                else K.Input(shape=(T,), dtype="bool", name="mask"))
        inputs.append(m_in)
        call_kw["mask"] = m_in
    if cfg["initial_state"]:
        states = [(K.Input(batch_shape=(B, U), dtype=dtype, name=f"s{k}") if stateful
                   else K.Input(shape=(U,), dtype=dtype, name=f"s{k}")) for k in range(n_states)]
        inputs += states
        call_kw["initial_state"] = states
    kw = {k: cfg[k] for k in RECURRENT_ARGS if k in cfg}
    if layer_class == "SimpleRNN":
        kw.pop("recurrent_activation", None)
    kw.update(extra or {})
    layer = getattr(K.layers, layer_class)(U, return_state=True, stateful=stateful,
                                           dtype=dtype, **kw)
    outputs = layer(x_in, **call_kw)
    model = K.Model(inputs, outputs)
    return model, layer


@contextlib.contextmanager
def keras_floatx(dtype, keras_module=None):
    """Run with Keras's ``floatx`` set to ``dtype``.

    Keras 3 ``predict`` casts float input arrays to ``floatx()`` before the model sees them
    (``trainers/data_adapters/array_slicing.py``, "Normalize floats to floatx"), so a float64
    model fed float64 data computes on float32-rounded inputs unless floatx is float64.
    """
    if keras_module is None:
        import keras as keras_module
    backend = keras_module.backend
    old = backend.floatx()
    backend.set_floatx(dtype)
    try:
        yield
    finally:
        backend.set_floatx(old)


def keras_inputs(cfg, x, mask, states):
    feed = [x]
    if cfg["mask_kind"] != "none":
        feed.append(mask)
    if cfg["initial_state"]:
        feed += list(states)
    return feed


def log_errors(test_name, cfg, expected, got):
    """Append measured errors to ``$LSTM_NP_ERROR_LOG`` (JSON lines) when it is set.

    ``max_abs`` is the largest absolute difference; ``max_scaled`` divides it by
    ``max(1, |expected|)`` elementwise, the quantity the tolerances bound.
    """
    path = os.environ.get("LSTM_NP_ERROR_LOG")
    if not path:
        return
    abs_err, scaled = 0.0, 0.0
    for e, g in zip(expected, got):
        if e.size:
            d = np.abs(np.asarray(g, np.float64) - np.asarray(e, np.float64))
            abs_err = max(abs_err, float(d.max()))
            scaled = max(scaled, float((d / np.maximum(1.0, np.abs(e))).max()))
    with open(path, "a") as f:
        f.write(json.dumps(dict(test=test_name, dtype=cfg["dtype"], T=cfg["timesteps"],
                                scale=cfg.get("weight_scale"), max_abs=abs_err,
                                max_scaled=scaled)) + "\n")
