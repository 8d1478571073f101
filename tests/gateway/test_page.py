"""The browser page in headless Chromium, with a fake microphone playing real English speech,
in a room with a second participant (a WebSocket client here) who speaks Spanish."""

from __future__ import annotations

import httpx
import numpy as np
import soundfile

from tests.gateway.chromium import chromium
from tests.gateway.conftest import Peer
from tests.speech import pcm16, silence, speak, wer

HELLO = "Good morning, how are you today?"
HOLA = "Buenos días, me gustaría reservar una mesa para cuatro personas."

FINAL_TEXTS = """[...document.querySelectorAll('#captions li[data-final="true"]')]
    .map(li => li.querySelector('.who').textContent + ' | ' + li.querySelector('.text')
    .textContent + ' | ' + li.querySelector('.original').textContent)"""


async def test_page_talks_hears_and_shows_captions(gateway, tmp_path):
    site = f"http://{gateway.address}"
    # The microphone: silence while the page joins, the sentence, then silence to end it.
    microphone = tmp_path / "microphone.wav"
    soundfile.write(
        microphone,
        np.concatenate([silence(2.5), speak(HELLO, "en"), silence(3.0)]),
        16_000,
        subtype="PCM_16",
    )
    async with httpx.AsyncClient(base_url=site) as http:
        room = (await http.get("/create-room")).json()["room_id"]
    luis = await Peer.join(site, room, target_lang="es", source_lang="es", name="Luis")
    async with chromium(tmp_path / "profile", microphone) as page:
        await page.call("Page.navigate", url=f"{site}/app/?room={room}")
        await page.wait_for("document.getElementById('speak')?.options.length > 1", 15)
        assert await page.evaluate("document.getElementById('room').value") == room
        await page.evaluate(
            """(() => {
                document.getElementById('name').value = 'Ana';
                document.getElementById('speak').value = 'en';
                document.getElementById('hear').value = 'en';
                document.getElementById('join').click();
            })()"""
        )
        await page.wait_for("document.getElementById('status').textContent === 'live'", 15)

        # The page's own speech, captured from the microphone, is captioned on the page...
        (own,) = await page.wait_for(FINAL_TEXTS, 40)
        who, text, _ = own.split(" | ")
        assert who.startswith("You") and wer(HELLO, text) <= 0.2, own
        # ... and reaches Luis in Spanish.
        spanish = await luis.wait_for(lambda: [c for c in luis.of("caption") if c["is_final"]])
        assert spanish[0]["speaker_name"] == "Ana" and "buen" in spanish[0]["text"].lower()

        # Luis speaks Spanish: the page shows it in English and plays the translated speech.
        data = pcm16(np.concatenate([silence(0.3), speak(HOLA, "es"), silence(1.5)]))
        for i in range(0, len(data), 3200):
            await luis.ws.send(data[i : i + 3200])
        heard = await page.wait_for(
            """document.querySelector('#captions li[data-heard="true"]')?.innerText""", 40
        )
        assert "Luis" in heard and "es → en" in heard, heard
        assert "table for four" in heard.lower(), heard
        people = await page.evaluate("document.getElementById('people').innerText")
        assert "Ana (you)" in people and "Luis" in people, people
        assert await page.evaluate("document.getElementById('count').textContent") == "2"

        shot = await page.screenshot(tmp_path / "gateway-page.png")
        assert shot.read_bytes().startswith(b"\x89PNG")

        await page.evaluate("document.getElementById('leave').click()")
        await page.wait_for("document.getElementById('status').textContent === 'left'", 10)
        await luis.wait_for(lambda: luis.of("participants_update")[-1]["count"] == 1, 10)
    await luis.close()
