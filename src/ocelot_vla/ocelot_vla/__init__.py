"""The ONNX VLA lifecycle node that runs the policy on the robot. Imports no torch, mujoco, h5py or mlflow."""
