"""The episode dataset: schema, episode files, index, splits, checks (ROS-free)."""
