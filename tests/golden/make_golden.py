"""Make the golden fixtures: real Keras outputs saved to ``tests/golden/*.npz``.

Run from the repository root with the ``keras`` extra installed::

    python -m tests.golden.make_golden [case ...]   # all cases, or only the named ones

Each case builds a Keras model with one option switched on (frugally-deep's
``get_test_model_recurrent`` style), trains it for one epoch on random data so the weights
are not their initial values, and saves the inputs, the weights (Keras order), the Keras
``model.predict`` outputs and the case's configuration. ``tests/test_golden.py`` replays them
without TensorFlow. The files store only numeric and string arrays (``allow_pickle=False``).
"""
import json
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = pathlib.Path(__file__).parent

B, T, D, U = 4, 9, 3, 5

# name -> (layer options, data options). Data options: layer class (default LSTM), mask kind,
# initial_state, dtype, keras.
CASES = {
    "lstm_default": ({}, {}),
    "lstm_sequences": ({"return_sequences": True}, {}),
    "lstm_go_backwards": ({"return_sequences": True, "go_backwards": True}, {"mask": "pre"}),
    "lstm_mask_pre": ({"return_sequences": True}, {"mask": "pre"}),
    "lstm_mask_post": ({}, {"mask": "post"}),
    "lstm_mask_random_zero_output": ({"return_sequences": True, "zero_output_for_mask": True},
                                     {"mask": "random"}),
    "lstm_initial_state": ({"return_sequences": True}, {"initial_state": True, "mask": "pre"}),
    "lstm_no_bias": ({"use_bias": False}, {}),
    "lstm_sigmoid_sigmoid": ({"activation": "sigmoid", "recurrent_activation": "sigmoid",
                              "return_sequences": True}, {}),
    "lstm_hard_sigmoid_k3": ({"recurrent_activation": "hard_sigmoid"}, {}),
    "lstm_relu": ({"activation": "relu"}, {}),
    "lstm_float64": ({"return_sequences": True}, {"dtype": "float64", "mask": "random"}),
    "lstm_hard_sigmoid_k2": ({"recurrent_activation": "hard_sigmoid", "return_sequences": True},
                             {"keras": 2, "mask": "post"}),
    "lstm_k2_default": ({"return_sequences": True}, {"keras": 2}),
    "lstm_stateful": ({"return_sequences": True, "stateful": True}, {"calls": 3}),
    "gru_default": ({}, {"layer": "GRU"}),
    "gru_reset_before_mask": ({"reset_after": False, "return_sequences": True},
                              {"layer": "GRU", "mask": "random"}),
    "gru_go_backwards": ({"return_sequences": True, "go_backwards": True},
                         {"layer": "GRU", "mask": "pre", "initial_state": True}),
    "gru_float64": ({"return_sequences": True, "zero_output_for_mask": True},
                    {"layer": "GRU", "dtype": "float64", "mask": "post"}),
    "gru_k2_reset_before_hard_sigmoid": ({"reset_after": False, "return_sequences": True,
                                          "recurrent_activation": "hard_sigmoid"},
                                         {"layer": "GRU", "keras": 2, "mask": "post"}),
    "gru_k2_default": ({"return_sequences": True}, {"layer": "GRU", "keras": 2}),
    "simple_rnn_default": ({}, {"layer": "SimpleRNN"}),
    "simple_rnn_mask_zero_output": ({"return_sequences": True, "zero_output_for_mask": True},
                                    {"layer": "SimpleRNN", "mask": "random"}),
    "simple_rnn_go_backwards": ({"return_sequences": True, "go_backwards": True},
                                {"layer": "SimpleRNN", "mask": "pre", "initial_state": True}),
    "simple_rnn_float64_relu": ({"return_sequences": True, "activation": "relu"},
                                {"layer": "SimpleRNN", "dtype": "float64", "mask": "random"}),
    "simple_rnn_k2": ({"return_sequences": True, "use_bias": False},
                      {"layer": "SimpleRNN", "keras": 2, "mask": "post"}),
}
N_STATES = {"LSTM": 2, "GRU": 1, "SimpleRNN": 1}


def _mask(kind, rng):
    if kind is None:
        return None
    if kind == "random":
        m = rng.random((B, T)) < 0.7
        m[0] = False      # a fully masked row
        return m
    lengths = np.array([T, 1, T // 2, T - 2])
    t = np.arange(T)[None]
    return t >= (T - lengths)[:, None] if kind == "pre" else t < lengths[:, None]


def make_case(name, layer_opts, data_opts, seed):
    keras_version = data_opts.get("keras", 3)
    if keras_version == 2:
        import tf_keras as K
    else:
        import keras as K
    dtype = data_opts.get("dtype", "float32")
    rng = np.random.default_rng(seed)
    stateful = layer_opts.get("stateful", False)
    K.backend.set_floatx(dtype)
    try:
        if stateful:
            x_in = (K.Input(batch_shape=(B, T, D), dtype=dtype) if keras_version == 3
                    else K.Input(batch_size=B, shape=(T, D), dtype=dtype))
        else:
            x_in = K.Input(shape=(T, D), dtype=dtype)
        inputs, kw = [x_in], {}
        mask = _mask(data_opts.get("mask"), rng)
        if mask is not None:
            m_in = (K.Input(shape=(T,), dtype="bool") if not stateful
                    else K.Input(batch_shape=(B, T), dtype="bool"))
            inputs.append(m_in)
            kw["mask"] = m_in
        states = None
        cls = data_opts.get("layer", "LSTM")
        if data_opts.get("initial_state"):
            s_in = [K.Input(shape=(U,), dtype=dtype) for _ in range(N_STATES[cls])]
            inputs += s_in
            kw["initial_state"] = s_in
            states = [rng.standard_normal((B, U)).astype(dtype) * 0.5 for _ in s_in]
        layer = getattr(K.layers, cls)(U, return_state=True, dtype=dtype, **layer_opts)
        outputs = layer(x_in, **kw)
        model = K.Model(inputs, outputs)
        x = rng.standard_normal((B, T, D)).astype(dtype)
        feed = [x] + ([mask] if mask is not None else []) + (states or [])
        # One epoch of training on a random target so the weights are realistic.
        targets = [rng.standard_normal(o.shape).astype(dtype) * 0.1 for o in
                   model.predict(feed, verbose=0, batch_size=B)]
        model.compile(optimizer=K.optimizers.Adam(0.05), loss="mse")
        model.fit(feed, targets, epochs=3, batch_size=B, verbose=0, shuffle=False)
        if stateful:
            layer.reset_states()
        arrays = {}
        for k, w in enumerate(model.get_weights()):
            arrays[f"weight_{k}"] = w
        calls = data_opts.get("calls", 1)
        for c in range(calls):
            xc = x * (c + 1)
            feed_c = [xc] + feed[1:]
            arrays[f"x_{c}"] = xc
            for j, out in enumerate(model.predict(feed_c, verbose=0, batch_size=B)):
                arrays[f"out_{c}_{j}"] = out
        if mask is not None:
            arrays["mask"] = mask
        for k, s in enumerate(states or []):
            arrays[f"state_{k}"] = s
    finally:
        K.backend.set_floatx("float32")
    config = dict(layer=cls, units=U, options=layer_opts, dtype=dtype, calls=calls,
                  keras_version=keras_version, keras=K.__version__, case=name)
    arrays["config"] = np.array(json.dumps(config))
    np.savez_compressed(HERE / f"{name}.npz", **arrays)
    print(f"{name}: {config}")


def main(names=()):
    unknown = set(names) - set(CASES)
    if unknown:
        raise SystemExit(f"unknown case(s) {sorted(unknown)}; known: {sorted(CASES)}")
    for seed, (name, (layer_opts, data_opts)) in enumerate(CASES.items()):
        if not names or name in names:
            make_case(name, layer_opts, data_opts, seed)


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
