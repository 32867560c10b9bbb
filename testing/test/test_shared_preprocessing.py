"""Collection stores, training reads and the policy node runs one preprocessing (ocelot_common.preprocessing):
the same functions, not copies. Across packages, so it lives here rather than in one package's tests."""

import ocelot_collect.collector_node as collector
import ocelot_train.dataset as dataset
import ocelot_vla.onnx_policy as runtime
from ocelot_common.preprocessing import frames_to_input, to_policy_frame


def test_collection_training_and_the_node_share_the_one_preprocessing():
    assert collector.to_policy_frame is to_policy_frame is runtime.to_policy_frame
    assert dataset.frames_to_input is frames_to_input is runtime.frames_to_input
