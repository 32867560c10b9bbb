"""A small exported policy for the node tests: the project's own export, a tiny text encoder.

The tests may use torch and transformers to make the model; the node they start must not.
"""

import pytest
from tiny_models import export_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return export_tiny_model(tmp_path_factory.mktemp("vla_model"))
