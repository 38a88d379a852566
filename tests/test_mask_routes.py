"""Masks arriving by every route into every mask-consuming layer, against Keras ``predict``.

Routes and consumers: :mod:`tests.mask_graphs`. Keras 3 records every mask a call
receives (also the ones it fills in) as a ``mask`` call argument, computed by op nodes
(``NotEqual``, ``Any``, ...) that lstm_np evaluates; tf-keras records only explicit ones.
The property test draws the graph (route, consumers, sizes, options), the weights and the
data; the deterministic tests put every consumer behind each route once.
"""
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lstm_np as ln
from tests import mask_graphs as mg
from tests.keras_routes import TOL, max_error, randomize

pytestmark = pytest.mark.keras


def _routes(model):
    """The live conversion and its ``.npz`` round trip (in memory)."""
    live = ln.from_keras(model)
    buf = io.BytesIO()
    live.save(buf)
    return {"live": live, "npz": ln.load(buf.getvalue())}


def _check(model, spec, seed, n=6):
    xs = mg.feed(spec, np.random.default_rng(seed), n)
    want = model.predict(xs, verbose=0)
    for route, ours in _routes(model).items():
        err = max_error(ours.predict(xs), want)
        assert err <= TOL, (spec, route, err)


def _spec(route, consumers, **kw):
    return dict(dict(route=route, consumers=consumers, T=5, D=3, U=3, return_sequences=True,
                     go_backwards=False, merge_mode="concat"), **kw)


@pytest.mark.parametrize("route", mg.ROUTES)
def test_every_consumer_keras3(route):
    import keras
    spec = _spec(route, mg.CONSUMERS, go_backwards=route in ("input", "embedding"),
                 return_sequences=route != "masking")
    _check(randomize(mg.build(keras, False, spec), seed=1), spec, seed=2)


@pytest.mark.tf_keras
def test_explicit_mask_input_into_consumers_tf_keras():
    """tf-keras records only explicit masks: the boolean ``Input`` route into the wrappers
    and ``Softmax`` (RNNs given ``mask=`` and ``initial_state``, and the propagated mask:
    ``test_call_arguments``)."""
    import tf_keras
    spec = _spec("input", ["bidirectional", "stacked", "time_distributed", "softmax"],
                 return_sequences=False, merge_mode="ave")
    _check(randomize(mg.build(tf_keras, True, spec), seed=3), spec, seed=4)


@pytest.mark.tf_keras
def test_tf_op_mask_is_refused_tf_keras():
    """tf-keras records ``tf.math.not_equal(ids, 0)`` as a ``TFOpLambda`` layer: refused by
    name (lstm_np runs no TensorFlow code), not dropped."""
    import tf_keras
    spec = _spec("compare", ["lstm"])
    with pytest.raises(ln.UnsupportedKerasFeature,
                       match=r"layer 'tf.math.not_equal\w*' \(TFOpLambda\)"):
        ln.from_keras(mg.build(tf_keras, True, spec))


@st.composite
def specs(draw, keras2):
    routes = [r for r in mg.ROUTES if not (keras2 and r == "compare")]
    consumers = draw(st.lists(st.sampled_from(mg.CONSUMERS), min_size=1, max_size=2,
                              unique=True))
    return dict(route=draw(st.sampled_from(routes)), consumers=consumers,
                T=draw(st.integers(1, 6)), D=draw(st.integers(1, 4)), U=draw(st.integers(1, 4)),
                return_sequences=draw(st.booleans()), go_backwards=draw(st.booleans()),
                merge_mode=draw(st.sampled_from(["concat", "sum", "mul", "ave"])))


# Each example builds and traces a Keras model (tf-keras: several seconds): a few per run in
# CI, more under HYPOTHESIS_PROFILE=thorough.
_N = max(3, settings.default.max_examples // 5)


def _property(keras, k2, data):
    spec = data.draw(specs(k2), label="spec")
    model = randomize(mg.build(keras, k2, spec), seed=data.draw(st.integers(0, 99)),
                      scale=data.draw(st.sampled_from([0.3, 1.0])))
    _check(model, spec, seed=data.draw(st.integers(0, 2**16)),
           n=data.draw(st.integers(1, 5)))


@given(data=st.data())
@settings(max_examples=_N)
def test_mask_routes_property_keras3(data):
    import keras
    _property(keras, False, data)


@pytest.mark.tf_keras
@given(data=st.data())
@settings(max_examples=max(2, _N // 2))
def test_mask_routes_property_tf_keras(data):
    import tf_keras
    _property(tf_keras, True, data)
