"""tus-js-client (a client nobody here wrote) against serve's tus endpoint, in Node and Chromium.

tus-js-client comes from the npm registry into ``tests/js/node_modules``
(``.ci/run`` runs ``npm ci --prefix tests/js``; a test installs it the same
way if it is missing). Each client uploads a file, aborts it part way (a
pause), resumes it from the server's offset, and the completed upload is in
``GET /uploads`` with its sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from starlette.responses import FileResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from uploadwriter.web import create_app

from .web_support import uvicorn_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

JS = Path(__file__).parent / "js"
TUS_JS = JS / "node_modules" / "tus-js-client"


@pytest.fixture(scope="module")
def tus_js_client() -> Path:
    """tests/js/node_modules/tus-js-client, installed from the npm registry if missing."""
    if not TUS_JS.is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: tus-js-client cannot be installed")
        subprocess.run(
            [npm, "ci", "--prefix", str(JS), "--no-audit", "--no-fund"],
            check=True,
            capture_output=True,
        )
    return TUS_JS


@pytest.fixture
def base(tmp_path: Path, tus_js_client: Path) -> Iterator[str]:
    """serve's app, plus a test page that loads tus-js-client's browser build."""
    app = create_app(tmp_path / "dir")

    async def page(request: Any) -> FileResponse:
        return FileResponse(JS / "tus_page.html")

    app.router.routes[0:0] = [
        Route("/tus-test/", page),
        Mount("/tus-test/js", StaticFiles(directory=tus_js_client / "dist")),
    ]
    with uvicorn_server(app) as host:
        yield f"http://{host}"


def listed(base: str) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = httpx.get(f"{base}/uploads").json()["files"]
    return files


def test_tus_js_client_under_node_uploads_pauses_and_resumes(base: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    data = os.urandom(2_500_000)
    source = tmp_path / "node.bin"
    source.write_bytes(data)
    result = subprocess.run(
        [node, str(JS / "tus_node.js"), f"{base}/files/", str(source), "1000000"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["pausedAt"] == 1_000_000
    assert report["resumedFrom"] >= 1_000_000  # not from 0: resumed at HEAD's offset
    (record,) = listed(base)
    assert record["client_name"] == "node-upload.bin"
    assert record["sha256"] == hashlib.sha256(data).hexdigest()


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    from .test_web_browser import ARGS

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.mark.browser
def test_tus_js_client_in_chromium_resumes_from_local_storage(
    base: str, browser: Browser, tmp_path: Path
) -> None:
    data = os.urandom(1_000_000)
    source = tmp_path / "browser.bin"
    source.write_bytes(data)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/tus-test/")
    page.set_input_files("#file", str(source))
    page.wait_for_function("() => window.result !== undefined", timeout=30_000)
    result = page.evaluate("window.result")
    page.close()
    assert errors == []
    assert "error" not in result, result
    assert result["pausedAt"] == 256 * 1024
    assert result["resumedFrom"] >= 256 * 1024
    (record,) = listed(base)
    assert record["client_name"] == "browser.bin"
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
