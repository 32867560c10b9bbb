"""Plain PyTorch training of the VLA policy: dataset, model, training, sweeps, ONNX export. Imports no rclpy."""
