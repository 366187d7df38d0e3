"""Runtime: run exported models with onnxruntime or LiteRT, never TensorFlow."""
