"""`parley demo` against `parley serve` with the embedded defaults: four people, three
languages, everything through real engines."""

from __future__ import annotations

import subprocess

from tests.conftest import tool


def test_scripted_room_of_four_people_in_three_languages(spawn):
    server = spawn(tool("parley"), "serve", env={"PARLEY_STT_PRELOAD": "start"}, timeout=120)
    result = subprocess.run(
        [tool("parley"), "demo", "--address", server.address],
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    # Ana (en) is read in French by John through the Spanish pivot; Luis (es) in English.
    assert "John   sees Ana (en->fr via en>es (apertium) > es>fr (apertium)): Bonjour" in out
    assert "Marie  sees Luis (es->en via es>en (apertium)): Good morning" in out
    assert "Ana    sees Marie (fr->es via fr>es (apertium))" in out
    # Six deliveries of translated speech: one per line and listener of another language.
    assert "over 6 deliveries" in out
    assert out.count("heard") == 6
