"""The benchmark workloads of issue 5: layer stacks, seeded weights and inputs, FLOP counts.

A workload is a small stack of layer specs (``Embedding``, ``LSTM``, ``GRU``, ``SimpleRNN``,
``Dense``) plus a batch, a sequence length and an input kind. Weights and inputs come from a seeded NumPy generator,
so every contender (and the pure-NumPy child process) rebuilds exactly the same numbers
without Keras. Keras is only needed for the reference outputs and the Keras contenders.

Sizes (``--tiny`` shrinks every dimension for the smoke test):

======================  =====  ===  ==========  ==============================================
id                      batch  T    input       layers
======================  =====  ===  ==========  ==============================================
``stream``              1      1    64 floats   LSTM(128), one ``step()`` with carried state
``latency``             1      100  64 floats   LSTM(128) -> Dense(10)
``gru_latency``         1      100  64 floats   GRU(128, reset_after=True) -> Dense(10)
``simple_rnn_latency``  1      100  64 floats   SimpleRNN(128) -> Dense(10)
``throughput``          256    100  128 floats  LSTM(256)
``gru_throughput``      256    100  128 floats  GRU(256, reset_after=True)
``char``                128    100  65 one-hot  LSTM(128) -> Dense(65, softmax)
``word``                20     30   ids < 1e4   Embedding(10000, 500) -> LSTM(500, seq) ->
                                                LSTM(500, seq) -> TimeDistributed(Dense(10000,
                                                softmax))
======================  =====  ===  ==========  ==============================================
"""
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Embedding", "LSTM", "GRU", "SimpleRNN", "RNN_SPECS", "GATES", "Dense", "Workload",
           "make_workloads", "WORKLOAD_IDS", "SEED", "STREAM_CHECK_STEPS"]

SEED = 20240605
STREAM_CHECK_STEPS = 8   # streaming contenders are checked on this many carried steps


@dataclass(frozen=True)
class Embedding:
    vocab: int
    dim: int


@dataclass(frozen=True)
class LSTM:
    units: int
    return_sequences: bool = False


@dataclass(frozen=True)
class GRU:
    """Keras ``GRU`` with ``reset_after=True`` (the Keras 2/3 default): gate blocks z, r, h."""

    units: int
    return_sequences: bool = False
    reset_after: bool = True


@dataclass(frozen=True)
class SimpleRNN:
    """Keras ``SimpleRNN`` with tanh: ``h = tanh(x W + b + h U)``."""

    units: int
    return_sequences: bool = False


RNN_SPECS = (LSTM, GRU, SimpleRNN)
GATES = {LSTM: 4, GRU: 3, SimpleRNN: 1}   # blocks of U columns in the kernels


@dataclass(frozen=True)
class Dense:
    units: int
    activation: str = "linear"       # "linear" or "softmax"
    time_distributed: bool = False   # wrap in TimeDistributed in the Keras model


@dataclass
class Workload:
    """One benchmark case. ``features`` is the input width (vocabulary for ``ids``)."""

    id: str
    title: str
    batch: int
    timesteps: int
    features: int
    layers: tuple
    input_kind: str = "float"        # "float", "onehot" or "ids"
    streaming: bool = False          # time one carried step (B, D) -> h instead of a call
    nojit: bool = False              # also time the pure-NumPy path (LSTM_NP_DISABLE_JIT=1)
    issue_figures: dict = field(default_factory=dict)   # reference medians from issue 5
    target: str = ""                 # issue 5 target for lstm_np

    # ------------------------------------------------------------------ data
    def rng(self):
        return np.random.default_rng([SEED, sum(map(ord, self.id))])

    def weights(self):
        """Keras ``get_weights()`` lists, one per layer spec (seeded, float32)."""
        rng = self.rng()
        out = []
        width = self.features
        for spec in self.layers:
            if isinstance(spec, Embedding):
                out.append([rng.uniform(-0.05, 0.05, (spec.vocab, spec.dim)).astype(np.float32)])
                width = spec.dim
            elif isinstance(spec, LSTM):
                u = spec.units
                a = np.sqrt(6.0 / (width + 4 * u))
                kernel = rng.uniform(-a, a, (width, 4 * u))
                r = np.sqrt(6.0 / (u + 4 * u))
                recurrent = rng.uniform(-r, r, (u, 4 * u))
                bias = rng.uniform(-0.1, 0.1, 4 * u)
                bias[u:2 * u] += 1.0                      # unit_forget_bias
                out.append([w.astype(np.float32) for w in (kernel, recurrent, bias)])
                width = u
            elif isinstance(spec, (GRU, SimpleRNN)):
                u, g = spec.units, GATES[type(spec)]
                a = np.sqrt(6.0 / (width + g * u))
                kernel = rng.uniform(-a, a, (width, g * u))
                r = np.sqrt(6.0 / (u + g * u))
                recurrent = rng.uniform(-r, r, (u, g * u))
                # GRU reset_after: (2, 3U) -- row 0 input bias, row 1 recurrent bias.
                shape = (2, g * u) if isinstance(spec, GRU) and spec.reset_after else (g * u,)
                bias = rng.uniform(-0.1, 0.1, shape)
                out.append([w.astype(np.float32) for w in (kernel, recurrent, bias)])
                width = u
            elif isinstance(spec, Dense):
                a = np.sqrt(6.0 / (width + spec.units))
                out.append([rng.uniform(-a, a, (width, spec.units)).astype(np.float32),
                            rng.uniform(-0.1, 0.1, spec.units).astype(np.float32)])
                width = spec.units
            else:  # pragma: no cover
                raise TypeError(spec)
        return out

    def inputs(self, batch=None, timesteps=None, salt=0):
        """The model input: (B, T, D) float32, one-hot float32, or (B, T) int32 ids."""
        rng = np.random.default_rng([SEED, sum(map(ord, self.id)), 1 + salt])
        b = self.batch if batch is None else batch
        t = self.timesteps if timesteps is None else timesteps
        if self.input_kind == "ids":
            return rng.integers(0, self.features, (b, t)).astype(np.int32)
        if self.input_kind == "onehot":
            return np.eye(self.features, dtype=np.float32)[rng.integers(0, self.features, (b, t))]
        return rng.standard_normal((b, t, self.features)).astype(np.float32)

    def stream_inputs(self):
        """``STREAM_CHECK_STEPS`` steps (K, B, D) for checking a streaming contender."""
        x = self.inputs(timesteps=STREAM_CHECK_STEPS, salt=7)   # (B, K, D)
        return np.ascontiguousarray(x.transpose(1, 0, 2))      # (K, B, D)

    # ---------------------------------------------------------------- counts
    def flops(self):
        """Multiply-add FLOPs of one call: LSTM ``2 B T 4U (D+U)`` (GRU 3U, SimpleRNN U) plus
        Dense ``2 B T' in out``."""
        b, t = self.batch, self.timesteps
        total = 0
        width = self.features
        seq = True        # is the current tensor still (B, T, .)?
        for spec in self.layers:
            if isinstance(spec, Embedding):
                width = spec.dim
            elif isinstance(spec, RNN_SPECS):
                total += 2 * b * t * GATES[type(spec)] * spec.units * (width + spec.units)
                width, seq = spec.units, spec.return_sequences
            elif isinstance(spec, Dense):
                total += 2 * b * (t if seq else 1) * width * spec.units
                width = spec.units
        return total

    def describe(self):
        parts = []
        for spec in self.layers:
            if isinstance(spec, Embedding):
                parts.append(f"Embedding({spec.vocab},{spec.dim})")
            elif isinstance(spec, RNN_SPECS):
                extra = ", reset_after" if isinstance(spec, GRU) and spec.reset_after else ""
                parts.append(f"{type(spec).__name__}({spec.units}{extra}"
                             f"{', seq' if spec.return_sequences else ''})")
            else:
                act = "" if spec.activation == "linear" else f", {spec.activation}"
                d = f"Dense({spec.units}{act})"
                parts.append(f"TimeDistributed({d})" if spec.time_distributed else d)
        inp = {"float": f"{self.features} features", "onehot": f"{self.features} one-hot",
               "ids": f"ids < {self.features}"}[self.input_kind]
        return f"batch {self.batch}, {self.timesteps} steps, {inp}: " + " -> ".join(parts)


def make_workloads(tiny=False):
    """The workload grid, keyed by id. ``tiny`` shrinks sizes (smoke tests only)."""
    def s(full, small):
        return small if tiny else full

    grid = [
        Workload("stream", "streaming step", 1, 1, s(64, 6), (LSTM(s(128, 8)),),
                 streaming=True, nojit=True, target="<= 10 µs",
                 issue_figures={"keras_predict": 100e-3, "tf_function_xla": 0.66e-3,
                                "ort": 56e-6, "torch": 365e-6}),
        Workload("latency", "latency", 1, s(100, 5), s(64, 6), (LSTM(s(128, 8)), Dense(10)),
                 nojit=True, target="<= 0.35 ms",
                 issue_figures={"keras_predict": 113e-3, "tf_function_xla": 1.65e-3,
                                "ort": 0.68e-3, "torch": 1.9e-3}),
        Workload("gru_latency", "GRU latency", 1, s(100, 5), s(64, 6),
                 (GRU(s(128, 8)), Dense(10)), nojit=True),
        Workload("simple_rnn_latency", "SimpleRNN latency", 1, s(100, 5), s(64, 6),
                 (SimpleRNN(s(128, 8)), Dense(10)), nojit=True),
        Workload("throughput", "throughput", s(256, 3), s(100, 5), s(128, 6), (LSTM(s(256, 8)),),
                 target=">= ORT and tf.function+XLA, >= 50% of FMA peak",
                 issue_figures={"keras_predict": 0.75, "tf_function_xla": 0.21}),
        Workload("gru_throughput", "GRU throughput", s(256, 3), s(100, 5), s(128, 6),
                 (GRU(s(256, 8)),)),
        Workload("char", "character model", s(128, 3), s(100, 5), s(65, 7),
                 (LSTM(s(128, 8)), Dense(s(65, 7), "softmax")), input_kind="onehot", nojit=True),
        Workload("word", "word model", s(20, 2), s(30, 4), s(10000, 50),
                 (Embedding(s(10000, 50), s(500, 6)), LSTM(s(500, 8), True), LSTM(s(500, 8), True),
                  Dense(s(10000, 50), "softmax", time_distributed=True)), input_kind="ids"),
    ]
    return {w.id: w for w in grid}


WORKLOAD_IDS = tuple(make_workloads())
