"""Command line: ``lstm-np <subcommand>`` / ``python -m lstm_np <subcommand>``.

Subcommands: ``demo`` (run the bundled next-letter model without TensorFlow).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

__all__ = ["main"]

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def _encode(seq, alphabet, maxlen):
    x = np.zeros((1, maxlen, 1), np.float32)
    seq = seq[-maxlen:]
    for j, ch in enumerate(seq):
        x[0, maxlen - len(seq) + j, 0] = (alphabet.index(ch) + 1) / len(alphabet)
    return x


def demo(args):
    """Load the bundled alphabet model and print next-letter predictions."""
    from . import load

    with open(os.path.join(DATA_DIR, "alphabet.json")) as fh:
        meta = json.load(fh)
    alphabet, maxlen = meta["alphabet"], meta["maxlen"]
    model = load(os.path.join(DATA_DIR, "alphabet.keras"))
    queries = ["A", "QR", "KLM", "BCDE", "UVWXY", "F", "HIJ", "ST"]
    model.predict(_encode("AB", alphabet, maxlen))   # warm-up (numba compile / cache load)
    for q in queries:
        probs = model.predict(_encode(q, alphabet, maxlen))
        print(f"{list(q)} -> {alphabet[int(np.argmax(probs))]}")
    n = args.repeat
    x = _encode("QR", alphabet, maxlen)
    start = time.perf_counter()
    for _ in range(n):
        model.predict(x)
    per = (time.perf_counter() - start) / n
    print(f"time per prediction: {per * 1e6:.1f} us (mean of {n}, batch of 1, "
          f"without TensorFlow)")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lstm-np", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run the bundled next-letter LSTM without TensorFlow")
    p.add_argument("--repeat", type=int, default=200, help="predictions to time")
    p.set_defaults(func=demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":   # pragma: no cover
    sys.exit(main())
