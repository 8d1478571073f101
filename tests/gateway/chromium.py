"""Headless Chromium (Debian's package) driven over the DevTools protocol, with a fake microphone.

No browser driver package is needed: the DevTools protocol is JSON over a WebSocket, and the
``websockets`` package is already there for the gateway.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--window-size=1100,900",
    "--remote-debugging-port=0",
]


KEYS = {"Tab": (9, ""), "Enter": (13, "\r"), "Space": (32, " ")}


def executable() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is missing: run the README set-up (Debian package chromium)")
    return path


class Page:
    """One tab, spoken to over the DevTools protocol."""

    def __init__(self, connection) -> None:
        self._ws = connection
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self.console: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self._ws:
            message = json.loads(raw)
            future = self._waiting.pop(message.get("id"), None)
            if future is not None and not future.done():
                future.set_result(message)
            elif message.get("method") == "Runtime.consoleAPICalled":
                args = message["params"]["args"]
                self.console.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in args)
                )
            elif message.get("method") == "Runtime.exceptionThrown":
                self.console.append(str(message["params"]["exceptionDetails"]))

    def close(self) -> None:
        self._reader.cancel()

    async def call(self, method: str, **params: Any) -> dict:
        """Runs one DevTools command; returns its result or raises on its error."""
        number = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        await self._ws.send(json.dumps({"id": number, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited if it is a promise), as a user gesture."""
        result = await self.call(
            "Runtime.evaluate",
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
            userGesture=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, within_s: float) -> Any:
        """Polls a JavaScript expression until it is truthy; returns its value."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.2)
        raise AssertionError(f"not true within {within_s} s: {expression}; console: {self.console}")

    async def press(self, key: str, shift: bool = False) -> None:
        """Presses and releases one key (``Tab``, ``Enter``, ``Space``) as a keyboard would."""
        code, text = KEYS[key]
        common = {"key": key if key != "Space" else " ", "code": key,
                  "windowsVirtualKeyCode": code, "modifiers": 8 if shift else 0}  # fmt: skip
        await self.call("Input.dispatchKeyEvent", type="keyDown", text=text, **common)
        await self.call("Input.dispatchKeyEvent", type="keyUp", **common)

    async def type(self, text: str) -> None:
        """Types ``text`` into the focused element."""
        await self.call("Input.insertText", text=text)

    async def tab_to(self, element_id: str, most: int = 40) -> list[str]:
        """Presses Tab until the element with ``element_id`` has the focus; returns the ids
        focused on the way. Fails if the keyboard cannot reach it."""
        seen = []
        for _ in range(most):
            await self.press("Tab")
            focused = await self.evaluate("document.activeElement?.id || ''")
            seen.append(focused)
            if focused == element_id:
                return seen
        raise AssertionError(f"Tab never reached #{element_id}; focus went {seen}")

    async def resize(self, width: int, height: int, mobile: bool = False) -> None:
        """Emulates a viewport (a phone with ``mobile``)."""
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=2 if mobile else 1,
            mobile=mobile,
        )

    async def screenshot(self, path: Path) -> Path:
        result = await self.call("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(result["data"]))
        return path


def _launch(profile: Path, microphone: Path) -> tuple[subprocess.Popen, int]:
    """Starts Chromium; returns it and the DevTools port it chose (written in its profile)."""
    profile.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            executable(),
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--use-file-for-fake-audio-capture={microphone}%noloop",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"chromium exited with {process.returncode} at start")
        if active.exists() and active.read_text().strip():
            return process, int(active.read_text().splitlines()[0])
        time.sleep(0.1)
    process.kill()
    pytest.fail("chromium did not open its DevTools port within 30 s")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.asynccontextmanager
async def chromium(profile: Path, microphone: Path):
    """Starts Chromium with ``microphone`` (a WAV file, played once) as its microphone; yields
    a :class:`Page` on a blank tab."""
    process, port = await asyncio.to_thread(_launch, profile, microphone)
    try:
        async with httpx.AsyncClient() as http:
            targets = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        async with websockets.connect(url, max_size=None) as connection:
            page = Page(connection)
            await page.call("Runtime.enable")
            await page.call("Page.enable")
            try:
                yield page
            finally:
                page.close()
    finally:
        await asyncio.to_thread(_stop, process)
