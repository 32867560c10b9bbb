"""Each node's config/*.yaml names exactly the parameters the node declares, with the same defaults."""

from pathlib import Path

import pytest
import rclpy
import yaml

from ocelot_oracle.oracle_node import OracleNode
from ocelot_sim.sim_node import SimNode
from ocelot_vla.vla_node import VLANode

SRC = Path(__file__).resolve().parents[2]
BUILT_IN = {"use_sim_time", "start_type_description_service"}  # every rclpy node has these


@pytest.mark.parametrize(
    "node_class, path",
    [
        (SimNode, SRC / "ocelot_sim" / "config" / "sim.yaml"),
        (OracleNode, SRC / "ocelot_oracle" / "config" / "oracle.yaml"),
        (VLANode, SRC / "ocelot_vla" / "config" / "vla.yaml"),
    ],
)
def test_config_matches_declared_parameters(node_class, path):
    ((name, body),) = yaml.safe_load(path.read_text()).items()
    context = rclpy.Context()
    rclpy.init(context=context, args=[])
    try:
        node = node_class(context=context)
        declared = {k: p.value for k, p in node.get_parameters_by_prefix("").items() if k not in BUILT_IN}
        assert node.get_name() == name
        assert body["ros__parameters"] == declared
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
