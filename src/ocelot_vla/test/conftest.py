"""A small model for the node tests that keeps the export contract, built without torch (testing/
contract_models.py): these tests run on the robot's footprint too, where there is no torch."""

import pytest
from contract_models import write_contract_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return write_contract_model(tmp_path_factory.mktemp("vla_model"))
