"""The browser page in headless Chromium, with a fake microphone playing real English speech,
in a room with a second participant (a WebSocket client here) who speaks Spanish, used with the
keyboard only, at a desktop and a phone width.

``PARLEY_PAGE_SCREENSHOTS=docs`` also keeps the screenshots there (the README's come from it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile

from tests.gateway.chromium import Page, chromium
from tests.gateway.conftest import Peer
from tests.speech import pcm16, silence, speak, wer

HELLO = "Good morning, how are you today?"
HOLA = "Buenos días, me gustaría reservar una mesa para cuatro personas."

FINAL_TEXTS = """[...document.querySelectorAll('#captions li[data-final="true"]')]
    .map(li => li.querySelector('.who .speaker').textContent + ' | ' +
    li.querySelector('.text').textContent + ' | ' + li.querySelector('.original').textContent)"""


def shown(element_id: str) -> str:
    """JavaScript: whether an element is displayed (not hidden, not inside a hidden one)."""
    return f"document.getElementById('{element_id}').offsetParent !== null"


def _saved(folder: Path, suffix: str) -> str | None:
    """The text of the first finished download ending in ``suffix`` (Chromium writes a
    .crdownload file first), or None."""
    done = [p for p in folder.glob(f"*{suffix}") if p.stat().st_size]
    return done[0].read_text() if done else None


async def downloaded(folder: Path, suffix: str, within_s: float = 10) -> str:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        text = await asyncio.to_thread(_saved, folder, suffix)
        if text is not None:
            return text
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {suffix} file was saved in {folder}")


def microphone(folder: Path, lead_s: float) -> Path:
    """The fake microphone: silence while the page joins, the sentence, silence to end it."""
    path = folder / "microphone.wav"
    speech = np.concatenate([silence(lead_s), speak(HELLO, "en"), silence(3.0)])
    soundfile.write(path, speech, 16_000, subtype="PCM_16")
    return path


def keep(shot: Path) -> None:
    folder = os.environ.get("PARLEY_PAGE_SCREENSHOTS")
    if folder:
        shutil.copy(shot, Path(folder) / shot.name)


async def test_the_page_from_join_to_leave(gateway, tmp_path):
    site = f"http://{gateway.address}"
    async with httpx.AsyncClient(base_url=site) as http:
        room = (await http.get("/create-room", params={"name": "Standup"})).json()["room_id"]
        offered = (await http.get("/languages")).json()["languages"]
    luis = await Peer.join(site, room, target_lang="es", source_lang="es", name="Luis")
    saved = tmp_path / "saved"
    saved.mkdir()
    async with chromium(tmp_path / "profile", microphone(tmp_path, 4.0)) as page:
        await page.call("Page.setDownloadBehavior", behavior="allow", downloadPath=str(saved))
        await page.call("Page.navigate", url=f"{site}/app/?room={room}")
        await page.wait_for("document.getElementById('join')?.disabled === false", 15)

        # The pickers offer what the server says: every language heard, and the spoken ones.
        speak_options = await page.evaluate("[...document.getElementById('speak').options]"
                                            ".map(o => o.value)")  # fmt: skip
        hear_options = await page.evaluate("[...document.getElementById('hear').options]"
                                           ".map(o => o.value)")  # fmt: skip
        assert speak_options == [""] + [x["language"] for x in offered if x["heard"]]
        assert set(hear_options) <= {x["language"] for x in offered if x["spoken"]}
        assert {"en", "es", "fr"} <= set(hear_options) and len(hear_options) > 8
        assert await page.evaluate("document.getElementById('mic-state').textContent")

        # Keyboard only: Tab through the form, type a name, join with Enter.
        await page.evaluate("document.activeElement?.blur()")
        passed = await page.tab_to("name")
        assert passed[:3] == ["room", "create", "name"], passed
        await page.type("Ana")
        await page.evaluate(
            """(() => {
                document.getElementById('speak').value = 'en';
                document.getElementById('hear').value = 'en';
            })()"""
        )
        await page.tab_to("join")
        await page.press("Enter")
        await page.wait_for("document.getElementById('status').textContent === 'live'", 15)
        assert await page.evaluate("document.getElementById('room-name').textContent") == "Standup"
        assert await page.evaluate("document.getElementById('room-id').textContent") == room
        assert await page.evaluate("document.getElementById('mic-state').textContent") == "on"
        assert await page.evaluate(shown("empty")), "an empty room says so"
        # Chromium records WebM Opus and plays Ogg Opus: the page uses them.
        audio = await page.evaluate("document.getElementById('room-view').dataset.audio")
        assert audio == "webm_opus>ogg_opus", audio

        # The page's own speech, captured from the microphone, is captioned on the page...
        (own,) = await page.wait_for(FINAL_TEXTS, 40)
        who, text, _ = own.split(" | ")
        assert who.startswith("You") and wer(HELLO, text) <= 0.2, own
        assert not await page.evaluate(shown("empty"))
        peak = await page.evaluate("Number(document.getElementById('level').dataset.peak)")
        assert peak > 0.05, f"the level meter never moved ({peak})"
        stamp = await page.evaluate("document.querySelector('#captions li time').dateTime")
        assert stamp.startswith(time.strftime("%Y-", time.gmtime())), stamp
        ready = await page.evaluate("Number(document.querySelector('#captions li')"
                                    ".dataset.latencyMs)")  # fmt: skip
        assert 100 < ready < 10_000, ready
        # ... and reaches Luis in Spanish.
        spanish = await luis.wait_for(lambda: [c for c in luis.of("caption") if c["is_final"]])
        assert spanish[0]["speaker_name"] == "Ana" and "buen" in spanish[0]["text"].lower()

        # Hans speaks German, which nothing here translates: the page says so, visibly.
        hans = await Peer.join(site, room, target_lang="de", source_lang="de", name="Hans")
        warned = await page.wait_for(
            "[...document.querySelectorAll('#notices li')].map(li => li.innerText).join('\\n')",
            15,
        )
        assert "nothing here translates de into en" in warned, warned
        assert await page.evaluate(shown("notices"))

        # Luis speaks Spanish: the page shows it in English, plays it and says how long it took.
        data = pcm16(np.concatenate([silence(0.3), speak(HOLA, "es"), silence(1.5)]))
        for i in range(0, len(data), 3200):
            await luis.ws.send(data[i : i + 3200])
        heard = await page.wait_for(
            """document.querySelector('#captions li[data-heard="true"]')?.innerText""", 40
        )
        assert "Luis" in heard and "es → en" in heard, heard
        assert "table for four" in heard.lower(), heard
        assert "heard " in heard and " s after speech" in heard, heard
        people = await page.evaluate("document.getElementById('people').innerText")
        assert "Ana (you)" in people and "Luis" in people and "Hans" in people, people
        assert await page.evaluate("document.getElementById('count').textContent") == "3"

        # The transcript, as text and as subtitles.
        await page.evaluate("document.getElementById('save-txt').click()")
        transcript = await downloaded(saved, ".txt")
        assert f"Parley room {room}" in transcript and "Luis: " in transcript, transcript
        assert "table for four" in transcript.lower()
        await page.evaluate("document.getElementById('save-srt').click()")
        subtitles = await downloaded(saved, ".srt")
        blocks = subtitles.strip().split("\n\n")
        assert len(blocks) == 2 and blocks[0].startswith("1\n00:00:"), subtitles
        assert " --> " in blocks[1] and "Luis: " in blocks[1], subtitles

        await screenshots(page, tmp_path)

        # Leave with the keyboard: the room is over for this page, its transcript stays.
        await page.tab_to("leave")
        await page.press("Enter")
        await page.wait_for("document.getElementById('status').textContent === 'left'", 10)
        assert await page.evaluate(shown("join-form"))
        assert await page.evaluate("document.getElementById('people').children.length") == 0
        for control in ("leave", "mute", "copy", "hear-live"):
            assert await page.evaluate(f"document.getElementById('{control}').disabled")
        assert not await page.evaluate("document.getElementById('save-txt').disabled")
        assert await page.evaluate("document.getElementById('mic-state').textContent") == "off"
        await luis.wait_for(lambda: luis.of("participants_update")[-1]["count"] == 2, 10)

        # A room that does not exist: the refusal is said in words, and the form stays.
        await page.evaluate("document.getElementById('room').value = 'no-such-room'")
        await page.evaluate("document.getElementById('join').click()")
        refused = await page.wait_for(
            "[...document.querySelectorAll('#notices li.error')].map(li => li.innerText)"
            ".join('\\n')",
            15,
        )
        assert "no-such-room" in refused, refused
        await page.wait_for("document.getElementById('status').textContent.startsWith("
                            "'closed: ')", 10)  # fmt: skip
        assert await page.evaluate(shown("join-form"))
        assert not await page.evaluate(shown("room-view"))
        await hans.close()
    await luis.close()


async def screenshots(page: Page, folder: Path) -> None:
    """The page in use at a desktop and at a phone width; nothing overflows the phone's."""
    desktop = await page.screenshot(folder / "page-desktop.png")
    await page.resize(390, 844, mobile=True)
    wide = await page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 390, f"the page is {wide} px wide on a 390 px phone"
    phone = await page.screenshot(folder / "page-phone.png")
    await page.call("Emulation.clearDeviceMetricsOverride")
    for shot in (desktop, phone):
        assert shot.read_bytes().startswith(b"\x89PNG")
        keep(shot)


async def test_the_pcm_path_for_browsers_without_opus(gateway, tmp_path):
    """``?audio=pcm``: the microphone through the AudioWorklet as 16 kHz PCM, and PCM back."""
    site = f"http://{gateway.address}"
    async with httpx.AsyncClient(base_url=site) as http:
        room = (await http.get("/create-room")).json()["room_id"]
    luis = await Peer.join(site, room, target_lang="es", source_lang="es", name="Luis")
    async with chromium(tmp_path / "profile", microphone(tmp_path, 2.5)) as page:
        await page.call("Page.navigate", url=f"{site}/app/?room={room}&audio=pcm")
        await page.wait_for("document.getElementById('join')?.disabled === false", 15)
        await page.evaluate(
            """(() => {
                document.getElementById('speak').value = 'en';
                document.getElementById('hear').value = 'en';
                document.getElementById('join').click();
            })()"""
        )
        await page.wait_for("document.getElementById('status').textContent === 'live'", 15)
        audio = await page.evaluate("document.getElementById('room-view').dataset.audio")
        assert audio == "pcm>pcm", audio
        (own,) = await page.wait_for(FINAL_TEXTS, 40)
        assert wer(HELLO, own.split(" | ")[1]) <= 0.2, own
        spanish = await luis.wait_for(lambda: [c for c in luis.of("caption") if c["is_final"]])
        assert "buen" in spanish[0]["text"].lower()
        data = pcm16(np.concatenate([silence(0.3), speak(HOLA, "es"), silence(1.5)]))
        for i in range(0, len(data), 3200):
            await luis.ws.send(data[i : i + 3200])
        heard = await page.wait_for(
            """document.querySelector('#captions li[data-heard="true"]')?.innerText""", 40
        )
        assert "table for four" in heard.lower(), heard
    await luis.close()
