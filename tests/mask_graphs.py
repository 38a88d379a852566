"""Functional Keras graphs where a mask reaches mask-consuming layers by every route.

Routes (how the mask arrives): ``masking`` (a ``Masking`` layer), ``embedding``
(``Embedding(mask_zero=True)``), ``input`` (an explicit boolean model ``Input`` passed as
``mask=``), ``compare`` (an explicit ``mask=`` computed by a Keras 3 comparison op,
``keras.ops.not_equal(ids, 0)``; tf-keras records such a TF op as a ``TFOpLambda`` layer,
which lstm_np refuses). Consumers: ``LSTM`` / ``GRU`` / ``SimpleRNN`` (then a second RNN
fed their sequence, which sees the propagated mask), ``Bidirectional``,
``RNN(StackedRNNCells)``, ``TimeDistributed(Dense)`` then an ``LSTM``, ``Softmax`` (with a
mask of the input's full shape), and a ``GRU`` given ``initial_state`` and the mask.

Imports Keras lazily (the caller passes the module).
"""
import numpy as np

ROUTES = ("masking", "embedding", "input", "compare")
CONSUMERS = ("lstm", "gru", "simple_rnn", "bidirectional", "stacked", "time_distributed",
             "softmax", "initial_state")
VOCAB = 7


def build(K, keras2, spec):
    """A model for ``spec`` = dict(route, consumers, T, D, U, return_sequences,
    go_backwards, merge_mode); inputs ``[x (T, D), ids (T,), m (T,), m_full (T, D), s (U,)]``
    (all always present, so one feed fits every graph)."""
    L = K.layers
    T, D, U = spec["T"], spec["D"], spec["U"]
    x = K.Input((T, D), name="x")
    ids = K.Input((T,), dtype="int32", name="ids")
    m = K.Input((T,), dtype="bool", name="m")
    m_full = K.Input((T, D), dtype="bool", name="m_full")
    s = K.Input((U,), name="s")
    route = spec["route"]
    kw = {}
    if route == "masking":
        h = L.Masking(0.0)(x)
    elif route == "embedding":
        h = L.Embedding(VOCAB, D, mask_zero=True)(ids)
    elif route == "input":
        h, kw = x, {"mask": m}
    else:   # compare: Keras 3 op, tf-keras TF op
        if keras2:
            import tensorflow as tf
            h, kw = x, {"mask": tf.math.not_equal(ids, 0)}
        else:
            h, kw = x, {"mask": K.ops.not_equal(ids, 0)}
    rs, gb = spec["return_sequences"], spec["go_backwards"]
    outs = []
    for c in spec["consumers"]:
        if c in ("lstm", "gru", "simple_rnn"):
            cls = {"lstm": L.LSTM, "gru": L.GRU, "simple_rnn": L.SimpleRNN}[c]
            y = cls(U, return_sequences=True, go_backwards=gb)(h, **kw)
            outs += [y, L.LSTM(U, return_sequences=rs)(y)]   # the propagated mask
        elif c == "bidirectional":
            outs.append(L.Bidirectional(L.GRU(U, return_sequences=rs),
                                        merge_mode=spec["merge_mode"])(h, **kw))
        elif c == "stacked":
            cells = L.StackedRNNCells([L.LSTMCell(U), L.SimpleRNNCell(U)])
            outs.append(L.RNN(cells, return_sequences=rs, go_backwards=gb)(h, **kw))
        elif c == "time_distributed":
            y = L.TimeDistributed(L.Dense(U))(h, **kw)
            outs += [y, L.LSTM(U, return_sequences=rs)(y)]
        elif c == "softmax":
            full = {"mask": m_full} if route in ("input", "compare") or keras2 else {
                "mask": K.ops.greater(x, 0.0)}
            outs.append(L.Softmax()(x, **full))
        elif c == "initial_state":
            outs.append(L.GRU(U, return_sequences=rs)(h, initial_state=[s], **kw))
    return K.Model([x, ids, m, m_full, s], outs)


def feed(spec, rng, n):
    """Inputs for ``build(spec)``: the route's mask has all patterns (pre / post / random
    padding, fully masked and unmasked rows) and agrees across routes: ``m`` is
    ``ids != 0`` and the zero steps of ``x``."""
    T, D, U = spec["T"], spec["D"], spec["U"]
    keep = rng.random((n, T)) < 0.6
    keep[0] = False                      # a fully masked row
    if n > 1:
        keep[1] = True                   # an unmasked row
    if n > 2:
        keep[2] = np.arange(T) >= T // 2   # pre-padding
    x = rng.normal(size=(n, T, D)).astype("float32")
    x[~keep] = 0.0
    ids = np.where(keep, rng.integers(1, VOCAB, (n, T)), 0).astype("int32")
    m_full = rng.random((n, T, D)) < 0.7
    s = rng.normal(size=(n, U)).astype("float32")
    return [x, ids, keep, m_full, s]
