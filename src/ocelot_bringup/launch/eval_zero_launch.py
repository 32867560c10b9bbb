"""`ros2 launch ocelot_bringup eval_zero_launch.py`: the 'eval_zero' graph of config/graphs.yaml."""

from ocelot_bringup.launch_description import generate_graph_launch_description


def generate_launch_description():
    return generate_graph_launch_description("eval_zero")
