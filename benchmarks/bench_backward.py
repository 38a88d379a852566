"""Backward-pass timing: lstm_np's BPTT vs TF's GradientTape on the same Keras 3 LSTM.

Run: ``python benchmarks/bench_backward.py [--repeats N]``. Not a test. Prints, per size:

* lstm_np forward (``keep=False``), forward with ``keep=True``, backward, and the
  backward / forward cost ratio;
* TF: the layer's forward, and forward + ``tape.gradient`` under ``tf.function``
  (the fair comparison: graph mode, no Python per op), its backward as the difference;
* the ratio TF / lstm_np for forward+backward and for the backward alone.

Times are the best of ``--repeats`` runs after a warm-up call (numba compile, TF tracing).
The upstream gradient is on the full output sequence and the final h and c.
"""
import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import lstm_np as ln  # noqa: E402

SIZES = [  # (B, T, D, U)
    (32, 50, 64, 128),
    (8, 100, 32, 64),
    (64, 20, 128, 256),
    (1, 200, 16, 32),
]


def best(fn, repeats):
    fn()  # warm-up: numba compile / TF trace
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-tf", action="store_true", help="skip the TensorFlow columns")
    args = parser.parse_args()
    import numba
    print(f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__},"
          f" lstm_np {ln.__version__}, JIT {ln.JIT_ENABLED}, {platform.processor() or platform.machine()},"
          f" {os.cpu_count()} cpus")
    tf = keras = None
    if not args.no_tf:
        import keras
        import tensorflow as tf
        print(f"tensorflow {tf.__version__}, keras {keras.__version__}")
    rng = np.random.default_rng(0)
    header = (f"{'B,T,D,U':>16} | {'fwd':>8} {'fwd keep':>8} {'bwd':>8} {'bwd/fwd':>7}"
              + ("" if args.no_tf else
                 f" | {'TF fwd':>8} {'TF f+b':>8} {'TF bwd':>8} | {'f+b x':>6} {'bwd x':>6}"))
    print(header)
    print("-" * len(header))
    for B, T, D, U in SIZES:
        layer = ln.LSTM(U, return_sequences=True, return_state=True)
        w = [rng.standard_normal((D, 4 * U)) / np.sqrt(D), rng.standard_normal((U, 4 * U)) / np.sqrt(U),
             rng.standard_normal(4 * U) * 0.1]
        layer.set_weights(w)
        x = rng.standard_normal((B, T, D)).astype(np.float32)
        d_out = rng.standard_normal((B, T, U)).astype(np.float32)
        dh, dc = rng.standard_normal((2, B, U)).astype(np.float32)
        t_fwd = best(lambda: layer.forward(x), args.repeats)
        t_keep = best(lambda: layer.forward(x, keep=True), args.repeats)
        _, _, cache = layer.forward(x, keep=True)
        t_bwd = best(lambda: layer.backward(d_out, [dh, dc], cache), args.repeats)
        row = f"{f'{B},{T},{D},{U}':>16} | {t_fwd * 1e3:7.2f}m {t_keep * 1e3:7.2f}m {t_bwd * 1e3:7.2f}m {t_bwd / t_fwd:7.2f}"
        if tf is not None:
            klayer = keras.layers.LSTM(U, return_sequences=True, return_state=True)
            klayer.build((B, T, D))
            klayer.set_weights(w)
            tx = tf.constant(x)

            @tf.function
            def tf_forward(tx):
                return klayer(tx)

            @tf.function
            def tf_forward_backward(tx):
                with tf.GradientTape() as tape:
                    tape.watch(tx)
                    out, h, c = klayer(tx)
                    loss = (tf.reduce_sum(out * d_out) + tf.reduce_sum(h * dh)
                            + tf.reduce_sum(c * dc))
                return tape.gradient(loss, [tx] + klayer.trainable_weights)

            t_tf_fwd = best(lambda: tf_forward(tx), args.repeats)
            t_tf_fb = best(lambda: tf_forward_backward(tx), args.repeats)
            t_tf_bwd = t_tf_fb - t_tf_fwd
            ours_fb = t_keep + t_bwd
            row += (f" | {t_tf_fwd * 1e3:7.2f}m {t_tf_fb * 1e3:7.2f}m {t_tf_bwd * 1e3:7.2f}m"
                    f" | {t_tf_fb / ours_fb:6.2f} {t_tf_bwd / t_bwd:6.2f}")
        print(row, flush=True)
    print("times in milliseconds (m); 'x' columns: TF time / lstm_np time (>1: lstm_np faster)")


if __name__ == "__main__":
    main()
