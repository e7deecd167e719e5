"""The page and the JS client in a real browser: Debian's Chromium driven by Playwright.

Select these with ``-m browser``. They skip only when ``/usr/bin/chromium``
is missing (``apt-get install -y chromium``) or Playwright is not installed;
``playwright install`` is never used. ``UPLOADWRITER_UPDATE_SCREENSHOTS=1``
makes the screenshot test write ``docs/_static/serve-page.png`` too.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from .web_support import Store, make_app, uvicorn_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_SCREENSHOT = Path(__file__).parent.parent / "docs" / "_static" / "serve-page.png"
FINAL = ("done", "error", "cancelled")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's Chromium is not installed (/usr/bin/chromium): apt-get install -y chromium"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright for Python is not installed: pip install playwright",
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    directory = tmp_path / "store"
    directory.mkdir()
    return Store(directory)


@pytest.fixture
def serve(store: Store) -> Iterator[Callable[..., str]]:
    """``serve(**make_app options)`` -> the app's base URL, stopped after the test."""
    stack: list[Any] = []

    def start(**options: Any) -> str:
        context = uvicorn_server(make_app(store, **options))
        stack.append(context)
        return f"http://{context.__enter__()}"

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1000, "height": 760})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.close()
    assert errors == []  # no uncaught exception in the page


def make_files(directory: Path, sizes: dict[str, int]) -> list[Path]:
    directory.mkdir(exist_ok=True)
    paths = []
    for name, size in sizes.items():
        path = directory / name
        path.write_bytes(os.urandom(size))
        paths.append(path)
    return paths


def statuses(page: Page) -> list[str]:
    result: list[str] = page.eval_on_selector_all(
        ".item", "items => items.map(i => i.dataset.status)"
    )
    return result


def wait_settled(page: Page, count: int, timeout: float = 30) -> None:
    page.wait_for_function(
        f"""() => {{
            const items = [...document.querySelectorAll('.item')];
            return items.length === {count}
                && items.every(i => {list(FINAL)!r}.includes(i.dataset.status));
        }}""",
        timeout=timeout * 1000,
    )


def listed(base: str) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = httpx.get(f"{base}/uploads").json()["files"]
    return files


def test_two_files_reach_100_and_are_listed_with_their_sha256(
    page: Page, serve: Callable[..., str], tmp_path: Path, store: Store
) -> None:
    base = serve(delay=0.01)
    paths = make_files(tmp_path / "pick", {"notes.txt": 150_000, "photo.jpg": 1_500_000})
    page.goto(base)
    page.wait_for_selector("text=Any type of file")  # the page asked the server its limits
    page.set_input_files("input[type=file]", [str(p) for p in paths])
    seen: list[list[float]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        values = page.eval_on_selector_all(".item progress", "bars => bars.map(b => b.value)")
        seen.append(values)
        if len(values) == 2 and all(s in FINAL for s in statuses(page)):
            break
        time.sleep(0.02)
    assert statuses(page) == ["done", "done"]
    # (The last values were read before the statuses: read them once more.)
    seen.append(page.eval_on_selector_all(".item progress", "bars => bars.map(b => b.value)"))
    for bar in range(2):
        values = [v[bar] for v in seen if len(v) == 2]
        assert values == sorted(values)  # progress only grows
        assert values[-1] == 100
    # The larger file was seen part-way: the bar moved, it did not jump.
    assert any(0 < v[1] < 100 for v in seen if len(v) == 2)
    expected = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    assert {f["client_name"]: f["sha256"] for f in listed(base)} == expected
    # The page lists them too.
    page.wait_for_function("document.querySelectorAll('#completed tbody tr').length === 2")
    assert page.locator("#completed").inner_text().count(expected["notes.txt"]) == 1
    # A file dropped on the page is uploaded too.
    page.evaluate(
        """() => {
            const data = new DataTransfer();
            data.items.add(new File(["dropped bytes"], "dropped.txt", { type: "text/plain" }));
            for (const type of ["dragenter", "dragover", "drop"]) {
                document.body.dispatchEvent(
                    new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true })
                );
            }
        }"""
    )
    page.wait_for_function("document.querySelectorAll('#completed tbody tr').length === 3")
    assert page.locator("#dropping").is_hidden()
    dropped = [f for f in listed(base) if f["client_name"] == "dropped.txt"]
    assert [f["sha256"] for f in dropped] == [hashlib.sha256(b"dropped bytes").hexdigest()]
    assert store.partial() == []


def test_cancel_mid_way_leaves_nothing(
    page: Page, serve: Callable[..., str], tmp_path: Path, store: Store
) -> None:
    base = serve(delay=0.02)
    (path,) = make_files(tmp_path / "pick", {"large.bin": 6_000_000})
    page.goto(base)
    page.set_input_files("input[type=file]", [str(path)])
    page.wait_for_function(
        "(() => { const b = document.querySelector('.item progress'); return b && b.value >= 5; })"
    )
    page.get_by_role("button", name="Cancel", exact=True).click()
    page.wait_for_function("document.querySelector('.item').dataset.status === 'cancelled'")
    progress = page.eval_on_selector(".item progress", "bar => bar.value")
    assert 5 <= progress < 100
    assert page.locator(".item .pct").inner_text() == "Cancelled"
    # Nothing of it is left: no partial file, nothing stored, nothing listed.
    deadline = time.monotonic() + 5
    while store.partial() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.partial() == []
    assert store.kept() == []
    assert listed(base) == []


CLIENT_SCRIPT = """
async () => {
  const { upload } = await import("./static/uploadwriter.js");
  const events = [];
  const record = (kind) => (file, value) => events.push([kind, file.name, value]);
  const bytes = (n) => new Uint8Array(n).map((_, i) => i % 251);
  const files = [
    new File([bytes(5000)], "ok.txt", { type: "text/plain" }),
    new File([bytes(400_000)], "too-large.bin"),
    new File([bytes(3000)], "fail-write.bin"),
    new File([bytes(300_000)], "aborted.bin"),
  ];
  const controller = new AbortController();
  // The abort cancels every file not yet ended: it comes once aborted.bin has
  // made progress *and* fail-write.bin has failed (both wait for one write),
  // so that the failure is the server's to report, not lost to the abort.
  let started = false, failed = false;
  const abortWhenBoth = () => { if (started && failed) controller.abort(); };
  const session = upload(files, {
    url: "ws",
    concurrency: 4,
    signal: controller.signal,
    onDone: record("done"),
    onError: (file, error) => {
      events.push(["error", file.name, error]);
      if (file.name === "fail-write.bin") { failed = true; abortWhenBoth(); }
    },
    onCancel: (file) => events.push(["cancel", file.name, null]),
    onProgress: (file, percent) => {
      events.push(["progress", file.name, percent]);
      if (file.name === "aborted.bin" && percent > 0) { started = true; abortWhenBoth(); }
    },
  });
  const entries = await session.done;
  return {
    events,
    entries: entries.map((e) => [e.file.name, e.status, e.error ? e.error.code : null]),
  };
}
"""


def test_the_client_handles_refusal_failure_and_abort_in_the_browser(
    page: Page, serve: Callable[..., str], store: Store
) -> None:
    base = serve(delay=0.02, max_file_size=350_000, chunk_size=20_000)
    page.goto(base)
    outcome = page.evaluate(CLIENT_SCRIPT)
    assert outcome["entries"] == [
        ["ok.txt", "done", None],
        ["too-large.bin", "error", "too_large"],
        ["fail-write.bin", "error", "writer_failure"],
        ["aborted.bin", "cancelled", None],
    ]
    events = outcome["events"]
    errors = {name: value for kind, name, value in events if kind == "error"}
    assert errors["too-large.bin"] == {
        "code": "too_large",
        "message": "This file is 400 kB; the limit is 350 kB.",
    }
    assert errors["fail-write.bin"]["message"] == "The server could not store this file."
    (done,) = [value for kind, name, value in events if kind == "done"]
    assert done["sha256"] == hashlib.sha256(bytes(i % 251 for i in range(5000))).hexdigest()
    assert ["cancel", "aborted.bin", None] in events
    aborted = [
        value for kind, name, value in events if kind == "progress" and name == "aborted.bin"
    ]
    assert aborted
    assert max(aborted) < 100
    deadline = time.monotonic() + 5
    while store.partial() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.partial() == []
    assert [f["client_name"] for f in store.files] == ["ok.txt"]


def test_the_page_with_twenty_files_long_names_an_error_and_a_cancel(
    page: Page, serve: Callable[..., str], tmp_path: Path, store: Store
) -> None:
    base = serve(delay=0.02, max_file_size=3_000_000, max_entries=25)
    # The interesting rows first, so that they show without scrolling.
    sizes = {
        "Quarterly results for the board meeting - final version (reviewed by legal) v7.xlsx": (
            480_000
        ),
        "video-too-large.mp4": 4_200_000,
        "IMG_20240612_183355_HDR_panorama_from_the_top_of_the_hill_looking_west.jpg": 1_900_000,
        "backup-to-cancel.tar.gz": 2_500_000,
        "a" * 180 + ".txt": 12_000,
    }
    sizes.update({f"scan-{n:02d}.pdf": 90_000 + 37_000 * n for n in range(15)})
    paths = make_files(tmp_path / "pick", sizes)
    page.goto(base)
    page.wait_for_selector("text=Any type of file")
    page.set_input_files("input[type=file]", [str(p) for p in paths])
    page.wait_for_selector(".item >> nth=19")
    # The fourth file is cancelled while it waits for its turn.
    page.locator(".item").nth(3).get_by_role("button", name="Cancel", exact=True).click()
    # The picture: some done, the large one on its way, the refused and the cancelled.
    page.wait_for_function(
        """() => {
            const items = [...document.querySelectorAll('.item')];
            const done = items.filter(i => i.dataset.status === 'done').length;
            const large = items[2].querySelector('progress').value;
            return done >= 2 && large >= 30;
        }"""
    )
    page.screenshot(path=str(tmp_path / "serve-page-uploading.png"), full_page=True)
    wait_settled(page, 20)
    page.wait_for_function("document.querySelectorAll('#completed tbody tr').length === 18")
    by_status = statuses(page)
    assert by_status.count("done") == 18
    assert (by_status[1], by_status[3]) == ("error", "cancelled")
    assert page.locator(".item").nth(1).locator(".message").inner_text() == (
        "This file is 4.2 MB; the limit is 3 MB."
    )
    assert page.locator("#summary").inner_text() == "18 of 20 done · 1 failed · 1 cancelled"
    # Long names stay within their row: nothing overflows, names do not run into sizes.
    overflow = page.evaluate(
        """() => {
            const bad = [];
            if (document.documentElement.scrollWidth > window.innerWidth) bad.push("page");
            for (const item of document.querySelectorAll('.item')) {
                const name = item.querySelector('.name').getBoundingClientRect();
                const size = item.querySelector('.size').getBoundingClientRect();
                if (name.right > size.left) bad.push(item.querySelector('.name').title);
                // A cut name keeps its extension, right after the ellipsis.
                const stem = item.querySelector('.stem');
                if (stem.scrollWidth > stem.clientWidth) bad.push("clipped: " + stem.textContent);
            }
            return bad;
        }"""
    )
    assert overflow == []
    page.screenshot(path=str(tmp_path / "serve-page.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 760})
    page.screenshot(path=str(tmp_path / "serve-page-narrow.png"))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Once everything has ended the list can be cleared.
    page.set_viewport_size({"width": 1000, "height": 760})
    page.get_by_role("button", name="Clear list").click()
    assert page.locator(".item").count() == 0
    assert page.locator("#current").is_hidden()
    if os.environ.get("UPLOADWRITER_UPDATE_SCREENSHOTS"):
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        DOCS_SCREENSHOT.write_bytes((tmp_path / "serve-page-uploading.png").read_bytes())
    shots = os.environ.get("UPLOADWRITER_SCREENSHOTS_DIR")
    if shots:  # to look at them after the run
        for shot in tmp_path.glob("serve-page*.png"):
            (Path(shots) / shot.name).write_bytes(shot.read_bytes())
