"""`parley demo` against `parley serve` with the embedded defaults: four people, three
languages, everything through real engines."""

from __future__ import annotations

import re
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
    # (The whole output on failure: pytest would cut it short.)
    assert "John   sees Ana (en->fr via en>es (apertium) > es>fr (apertium)): Bonjour" in out, out
    assert "Marie  sees Luis (es->en via es>pt (apertium) > pt>en (bergamot)): Good" in out, out
    assert "Ana    sees Marie (fr->es via fr>es (apertium))" in out, out
    # Six deliveries of translated speech: one per line and listener of another language,
    # a line of two sentences perhaps in two segments, the first while it is still said.
    assert "over 6 deliveries" in out, out
    rows = re.findall(r"^  (\S+->\S+) +[\d.]+ s(?: \((\d+) segments\))?$", out, re.M)
    assert [pair for pair, _ in rows] == [
        "Ana->John",
        "John->Ana",
        "Luis->John",
        "Luis->Marie",
        "Marie->Ana",
        "Marie->Luis",
    ]
    assert out.count(" heard ") == sum(int(n or 1) for _, n in rows)
