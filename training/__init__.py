"""Training, data loading and model export (TensorFlow is imported only here, and only when used)."""
