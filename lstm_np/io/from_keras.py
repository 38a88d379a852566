"""Convert a live Keras model (Keras 3 or tf-keras 2) into a :class:`lstm_np.Model`.

The only module that touches live Keras objects. Keras itself is never imported here:
the model is read through its own methods (``to_json()``, ``get_layer().get_weights()``).
"""
import json
import sys

from ..errors import ArgumentError, UnsupportedKerasFeature
from .graph import keras_major, model_from_keras_config

__all__ = ["from_keras"]


def _keras_version_of(model):
    top = type(model).__module__.split(".")[0]
    if top == "tf_keras":
        return 2
    module = sys.modules.get(top)
    version = getattr(module, "__version__", None)
    if top == "tensorflow":   # tf.keras of TF < 2.16 (Keras 2)
        return 2
    return keras_major(version, default=3)


def from_keras(model):
    """Build an lstm_np model with the same graph, weights and semantics as ``model``.

    Works for Sequential and Functional models of Keras 3 and of tf-keras (Keras 2);
    the model must be built (have weights).
    """
    if not hasattr(model, "to_json") or not hasattr(model, "get_layer"):
        raise ArgumentError(f"from_keras expects a Keras Model; received "
                            f"{type(model).__name__}")
    try:
        config = json.loads(model.to_json())
    except (NotImplementedError, TypeError, ValueError) as exc:
        raise UnsupportedKerasFeature(
            f"model {getattr(model, 'name', '?')!r} ({type(model).__name__}) has no "
            f"serialisable config: {exc}") from None
    kv = _keras_version_of(model)

    def weights_of(name, entry, index):
        try:
            layer = model.get_layer(name)
        except ValueError:
            return []   # an input layer Keras does not list (Sequential)
        return [w for w in layer.get_weights()]

    return model_from_keras_config(config, kv, weights_of)
