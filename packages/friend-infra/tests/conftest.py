"""Shared set-up: silence jsii's Node banner before any test module loads aws_cdk; a clone of
this repository with a newer friend-handlers release, for the release and template tests."""

from pathlib import Path

import friend_infra  # noqa: F401  (sets the JSII_SILENCE_* defaults on import)
import pytest

from .releasing import clone_of_this_repository, cut_patch_release


@pytest.fixture(scope="session")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone where a handlers change and an infra change were committed, then friend-handlers
    was released with a patch bump (its store: the committed releases and the new one)."""
    return cut_patch_release(clone_of_this_repository(tmp_path_factory.mktemp("released") / "repo"))
