"""Benchmarks of lstm_np against Keras, tf.function, ONNX Runtime and torch (issue 5)."""
