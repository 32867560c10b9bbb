"""`ros2 launch ocelot_bringup deploy_launch.py`: the 'deploy' graph of config/graphs.yaml."""

from ocelot_bringup.launch_description import generate_graph_launch_description


def generate_launch_description():
    return generate_graph_launch_description("deploy")
