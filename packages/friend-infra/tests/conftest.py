"""Shared set-up: silence jsii's Node banner before any test module loads aws_cdk; the
Powertools settings a deployed function reads at import; a clone of this repository with a newer
friend-handlers release, for the release and template tests."""

import os
from pathlib import Path

import friend_infra  # noqa: F401  (sets the JSII_SILENCE_* defaults on import)
import pytest
from friend_infra.functions import METRICS_NAMESPACE, SERVICE_NAME

# Before any test module imports a handler (test_app imports the OpenAPI document, which imports
# the API handlers): Powertools reads them once, at import, and the release mixes later run
# those very modules.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", SERVICE_NAME)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", METRICS_NAMESPACE)

from .releasing import clone_of_this_repository, cut_patch_release


@pytest.fixture(scope="session")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone where a handlers change and an infra change were committed, then friend-handlers
    was released with a patch bump (its store: the committed releases and the new one)."""
    return cut_patch_release(clone_of_this_repository(tmp_path_factory.mktemp("released") / "repo"))
