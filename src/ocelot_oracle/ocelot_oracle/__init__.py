"""The oracle controller: a ROS-free control law and its lifecycle node."""
