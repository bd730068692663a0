"""The local page in a real browser: `genbot run --local --tiny` in a subprocess (ended by its
PID), Playwright driving Debian's Chromium through the scenarios a new user tries first.

The tests share one world and one page and run in file order. Set UPDATE_SCREENSHOT=1 to
rewrite docs/local-mode.png (it is written when missing)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.local_service import free_port

CHROMIUM = Path("/usr/bin/chromium")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (apt-get install chromium)"
)
expect = sync_api.expect

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "local-mode.png"
READY = re.compile(r"ready in ([\d.]+) s: open (http://127\.0\.0\.1:\d+)/")
TOXIC = "I will kill you, you worthless idiot"
COOLDOWN_S = 2.1  # the bot's default per-user cooldown, plus a little
SCRIPT_ERRORS: list[str] = []


@dataclass
class LocalGenbot:
    """The `genbot run --local` process, where its page is, and how long it took to be ready."""

    proc: subprocess.Popen
    url: str
    ready_s: float
    out: Path
    home: Path

    def text(self) -> str:
        return self.out.read_text(errors="replace")


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> Iterator[LocalGenbot]:
    home = tmp_path_factory.mktemp("local-home")
    out = home / "stdout.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENBOT_", "DISCORD_"))}
    env.update(GENBOT_HOME=str(home), GENBOT_DETOXIFY="off", HF_HUB_OFFLINE="1")
    args = [sys.executable, "-m", "bot.cli", "run", "--local", "--tiny"]
    started = time.monotonic()
    with open(out, "w") as sink:
        proc = subprocess.Popen(
            [*args, "--port", str(free_port())], cwd=ROOT, env=env, stdout=sink, stderr=sink
        )
    try:
        found = None
        while found is None and proc.poll() is None and time.monotonic() - started < 120:
            found = READY.search(out.read_text(errors="replace"))
            time.sleep(0.1)
        if found is None:
            log = (home / "local-mode.log").read_text(errors="replace")[-4000:]
            pytest.fail(f"local mode did not start:\n{out.read_text()}\n{log}")
        yield LocalGenbot(proc, found.group(2), time.monotonic() - started, out, home)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(45)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def page(local: LocalGenbot):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        tab = browser.new_page(viewport={"width": 1000, "height": 700})
        tab.set_default_timeout(30_000)
        tab.on("pageerror", lambda error: SCRIPT_ERRORS.append(str(error)))
        tab.goto(local.url + "/")
        expect(tab.locator("body[data-ready]")).to_have_count(1)
        yield tab
        browser.close()


def send(page, text: str) -> None:
    """Type a line into the composer and press Enter."""
    page.fill("#input", text)
    page.press("#input", "Enter")


def be(page, member: str, channel: str = "general") -> None:
    """Switch to a member and a channel in the sidebar."""
    page.click(f"[data-member={member}]")
    page.click(f"[data-channel={channel}]")
    expect(page.locator(f"[data-member={member}]")).to_have_attribute("aria-pressed", "true")
    # The message list is fetched after the switch: wait until it shows this channel and member.
    expect(page.locator(f'body[data-shown="{channel}:{member}"]')).to_have_count(1)


def test_the_page_comes_up_quickly(local: LocalGenbot):
    print(f"\n`genbot run --local --tiny` usable after {local.ready_s:.1f} s: {local.url}/")
    assert local.ready_s < 60


def test_imagine_shows_a_grid_with_buttons_and_v1_makes_variations(page, local):
    started = time.monotonic()
    send(page, "/imagine prompt: red heart")
    grid = page.locator(".msg").filter(has_text="red heart").filter(has=page.locator("img"))
    expect(grid.get_by_role("button", name="V1")).to_be_visible(timeout=60_000)
    print(f"\n/imagine round trip in the page: {time.monotonic() - started:.2f} s")
    for label in ("V2", "V3", "V4", "U1", "U4"):
        expect(grid.get_by_role("button", name=label)).to_be_visible()
    expect(grid).to_contain_text("Ada used /imagine")
    loaded = "[...document.images].every((i) => i.complete && i.naturalWidth > 0)"
    page.wait_for_function(loaded)
    if os.environ.get("UPDATE_SCREENSHOT") or not SCREENSHOT.exists():
        page.screenshot(path=str(SCREENSHOT))
    time.sleep(COOLDOWN_S)
    grid.get_by_role("button", name="V1").click()
    results = page.locator(".msg").filter(has=page.locator(".attachment img"))
    expect(results).to_have_count(2, timeout=60_000)
    expect(results.nth(1)).to_contain_text("job")


def test_bad_input_is_explained_in_the_page_and_nothing_is_sent(page):
    be(page, "Ada")
    shown = page.locator(".msg").count()
    for text, error in [
        ("/imagin prompt: x", "Did you mean /imagine?"),
        ("/imagine", "/imagine needs prompt"),
        ("/imagine prompt: a cat seed: lots", "seed must be a whole number"),
        ("/mod policy show", "Discord offers /mod only to members"),
    ]:
        page.fill("#input", text)
        page.click("#send")
        expect(page.locator("#composer-error")).to_contain_text(error)
    page.fill("#input", "/vary")
    with page.expect_file_chooser() as chooser:
        page.click("[data-option=image]")
    big = {"name": "big.png", "mimeType": "image/png", "buffer": bytes(9 * 1024 * 1024)}
    chooser.value.set_files(big)
    expect(page.locator("[data-option=image]")).to_contain_text("big.png")
    page.click("#send")
    expect(page.locator("#composer-error")).to_contain_text("over the 8 MB upload limit")
    assert page.locator(".msg").count() == shown
    page.fill("#input", "/imag")
    expect(page.locator("#suggestions")).to_contain_text("/imagine")
    page.fill("#input", "/imagine prompt: a cat ")
    expect(page.locator("#suggestions")).to_contain_text("seed:")
    send(page, "/help")  # a complete command: Enter sends it rather than completing it
    expect(page.locator(".msg.ephemeral").filter(has_text="/imagine")).to_be_visible()


def test_a_refusal_is_shown_only_to_its_requester_with_an_appeal(page):
    be(page, "Bo")
    send(page, f"/imagine prompt: {TOXIC}")
    refusal = page.locator(".msg.ephemeral").filter(has_text="was refused")
    expect(refusal.get_by_role("button", name="Appeal")).to_be_visible()
    expect(refusal).to_contain_text("Only you can see this")
    refusal.get_by_role("button", name="Appeal").click()
    expect(page.locator("dialog[open]")).to_contain_text("Appeal this refusal")
    page.fill("dialog textarea", "a line from a film")
    page.click("#modal-submit")
    expect(page.locator(".msg.ephemeral").filter(has_text="Appeal #")).to_be_visible()
    be(page, "Ada")
    expect(page.locator(".msg").first).to_be_visible()
    expect(page.get_by_text("was refused")).to_have_count(0)
    expect(page.get_by_role("button", name="Appeal")).to_have_count(0)


def test_a_moderator_approves_a_held_result_and_it_is_posted(page):
    be(page, "Mo")
    send(page, "/mod policy set key: toxicity.flag value: 0")
    expect(page.locator(".msg.ephemeral").filter(has_text="toxicity.flag")).to_be_visible()
    be(page, "Ada")
    send(page, "/write prompt: a short poem max_tokens: 8")
    expect(page.locator(".msg").filter(has_text="pending review")).to_be_visible()
    be(page, "Mo", "mod-review")
    held = page.locator(".msg").filter(has_text="held").filter(has_text="a short poem")
    approve = held.get_by_role("button", name="Approve")
    expect(approve).to_be_visible()
    job = re.search(r"job (\d+)", held.inner_text()).group(1)
    approve.click()
    expect(page.locator(".msg.ephemeral").filter(has_text="Approved")).to_be_visible()
    be(page, "Ada")
    posted = page.locator(".msg:not(.ephemeral)").filter(has_text=f"job {job}")
    expect(posted.locator(".embed")).to_be_visible()


def test_the_page_ran_without_script_errors(page):
    assert SCRIPT_ERRORS == []


def test_sigterm_stops_the_bot_and_its_service(local: LocalGenbot):
    bot_log = (local.home / "local-mode.log").read_text(errors="replace")
    service_pid = int(re.search(r"local generation service \(pid (\d+)\)", bot_log).group(1))
    local.proc.send_signal(signal.SIGTERM)
    assert local.proc.wait(45) == 0
    assert "genbot local: stopped" in local.text()
    with pytest.raises(ProcessLookupError):
        os.kill(service_pid, 0)
