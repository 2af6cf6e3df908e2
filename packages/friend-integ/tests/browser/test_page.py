"""The page in a real browser against the stack deployed on the default emulator (MiniStack),
through the ``deployed_stack`` fixture (the functions built from the working tree).

Headless Debian Chromium driven by Playwright; no browser download. Chromium runs with the
flags that keep it off the network it must not reach (no background services, no proxy, no
QUIC), so it talks to the emulator on 127.0.0.1 and nothing else.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from friend_integ.emulators import Emulator
from friend_integ.test_support.stacks import Deployment, DeployStack
from playwright.sync_api import Browser, Page, expect, sync_playwright

pytestmark = pytest.mark.emulator

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium (`.ci/run` installs it when missing)."""
CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]
SETTLED = 30_000
"""Milliseconds to wait for a state that needs the queue and the stream (well under a second on
MiniStack; generous for a loaded machine)."""
FIRST_CALL = 20_000
"""Milliseconds every expectation may wait: the first call of each function meets it cold,
which takes seconds on a loaded machine."""


@pytest.fixture(scope="module")
def deployed(ministack: Emulator, deployed_stack: DeployStack) -> Deployment:
    """The service's stack, deployed to the session's MiniStack."""
    return deployed_stack(ministack, "FriendPage")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: apt-get install chromium"
    expect.set_options(timeout=FIRST_CALL)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


def send(page: Page, player: str, action: str, friend: str) -> None:
    page.get_by_label("From").select_option(player)
    page.get_by_label("Action").fill(action)
    page.get_by_label("To").select_option(friend)
    page.get_by_role("button", name="Send").click()


def test_two_players_become_friends_and_bad_input_shows_the_api_error(
    deployed: Deployment, browser: Browser, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 780})
    page.goto(deployed.api_url)
    expect(page).to_have_title("Friend graph")
    status = page.get_by_role("status")
    ana = page.get_by_role("region", name="Friends of ana")
    ben = page.get_by_role("region", name="Friends of ben")
    expect(ana).to_contain_text("no friends yet")

    send(page, "ana", "Request", "ben")
    expect(status).to_contain_text("202 queued: Request ana \u2192 ben")
    expect(ana.get_by_role("listitem")).to_have_text(["ben Requested"], timeout=SETTLED)
    expect(ben.get_by_role("listitem")).to_have_text(["ana Pending"], timeout=SETTLED)

    send(page, "ben", "Accept", "ana")
    expect(status).to_contain_text("202 queued: Accept ben \u2192 ana")
    expect(ana.get_by_role("listitem")).to_have_text(["ben Friends"], timeout=SETTLED)
    expect(ben.get_by_role("listitem")).to_have_text(["ana Friends"], timeout=SETTLED)
    pairs = page.get_by_role("table", name="Pairs")
    expect(pairs.get_by_role("row").nth(1)).to_have_text("ana\u2014Friends\u00b7\u00b7")

    # Not one of the four actions: outside the request model. On AWS and LocalStack API Gateway
    # refuses it ("Invalid request body"); MiniStack 1.5.33 drops request validators that
    # CloudFormation declares, so here the write function refuses it, in the model's words.
    send(page, "cleo", "Poke", "dev")
    expect(status).to_have_text(
        "400 refused: InvalidFields: friend_action: Input should be 'Request', 'Accept', "
        "'Reject' or 'Unfriend' (Poke cleo \u2192 dev)"
    )
    # Refused by the write function: a rule JSON Schema cannot state.
    send(page, "dev", "Request", "dev")
    expect(status).to_contain_text(
        "400 refused: SelfRequest: message: player_id and friend_id must differ"
    )
    expect(page.get_by_role("region", name="Friends of dev")).to_contain_text("no friends yet")

    screenshot = tmp_path / "page.png"
    page.screenshot(path=screenshot, full_page=True)
    print(f"screenshot: {screenshot}")
    assert screenshot.stat().st_size > 0
