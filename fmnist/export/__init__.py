"""Export: trained Keras models to ONNX and TFLite, float and int8."""
