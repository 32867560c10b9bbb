"""`ros2 launch ocelot_bringup sim_launch.py`: the 'sim' graph of config/graphs.yaml."""

from ocelot_bringup.launch_description import generate_graph_launch_description


def generate_launch_description():
    return generate_graph_launch_description("sim")
