"""Train the bundled demo model with real Keras: next letter of the alphabet.

After the "variable-length input to one-char output" LSTM tutorial: every substring of
1..MAXLEN consecutive letters is encoded as letter index + 1 (0 is padding), left-padded
with zeros as ``pad_sequences`` does by default, scaled by 1/26, and a
Masking -> LSTM -> Dense(softmax) model learns the letter that follows. Writes
``lstm_np/data/alphabet.keras`` and ``lstm_np/data/alphabet.json`` (encoding metadata),
which ``python -m lstm_np demo`` runs without TensorFlow.

Usage: python scripts/make_demo_model.py
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAXLEN = 5
OUT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "lstm_np", "data")


def encode(seqs):
    """Letters -> (N, MAXLEN, 1) float32: (index + 1) / 26, zero left-padded."""
    x = np.zeros((len(seqs), MAXLEN, 1), np.float32)
    for i, s in enumerate(seqs):
        for j, ch in enumerate(s[-MAXLEN:]):
            x[i, MAXLEN - len(s[-MAXLEN:]) + j, 0] = (ALPHABET.index(ch) + 1) / len(ALPHABET)
    return x


def dataset():
    seqs, targets = [], []
    for length in range(1, MAXLEN + 1):
        for start in range(len(ALPHABET) - length):
            seqs.append(ALPHABET[start:start + length])
            targets.append(ALPHABET.index(ALPHABET[start + length]))
    return seqs, np.array(targets)


def main():
    keras.utils.set_random_seed(7)
    seqs, y = dataset()
    x = encode(seqs)
    model = keras.Sequential([
        keras.Input((MAXLEN, 1)),
        layers.Masking(mask_value=0.0),
        layers.LSTM(64),
        layers.Dense(len(ALPHABET), activation="softmax"),
    ], name="alphabet")
    model.compile(optimizer=keras.optimizers.Adam(0.003),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for _ in range(40):
        model.fit(x, y, epochs=50, batch_size=8, verbose=0)
        acc = float(np.mean(np.argmax(model.predict(x, verbose=0), -1) == y))
        print(f"accuracy {acc:.3f}")
        if acc == 1.0:
            break
    os.makedirs(OUT_DIR, exist_ok=True)
    model.save(os.path.join(OUT_DIR, "alphabet.keras"))
    with open(os.path.join(OUT_DIR, "alphabet.json"), "w") as fh:
        json.dump({"alphabet": ALPHABET, "maxlen": MAXLEN, "padding": "pre",
                   "encoding": "(index + 1) / len(alphabet), 0 = padding",
                   "trained_accuracy": acc}, fh, indent=1)


if __name__ == "__main__":
    main()
