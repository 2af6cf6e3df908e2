"""Waits sized by target: short on an emulator, AWS-sized on AWS, and what an app was given."""

import pytest
from friend_integ import waits


def test_a_wait_on_an_emulator_is_a_fraction_of_one_on_aws() -> None:
    emulator, aws = waits.patience_for(on_aws=False), waits.patience_for(on_aws=True)

    assert waits.POLL_SECONDS < emulator <= 30 < aws
    assert aws == waits.AWS_PATIENCE_SECONDS


def test_an_app_gets_the_total_it_was_given_else_the_emulators() -> None:
    assert waits.patience({waits.PATIENCE_ENV: "180"}) == 180
    # The snapshot check and integ-runner run by hand: what the committed snapshots hold.
    assert waits.patience({}) == waits.EMULATOR_PATIENCE_SECONDS


@pytest.mark.parametrize("raw", ["", "soon", "0", "-5"])
def test_a_total_that_is_not_a_positive_whole_number_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=waits.PATIENCE_ENV):
        waits.patience({waits.PATIENCE_ENV: raw})
