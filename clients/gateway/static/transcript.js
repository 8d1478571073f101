// The room's captions as files to save: plain text (one line per utterance, with the time it
// was said) and SubRip subtitles (times from when the page joined).

export function clock(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function srtTime(ms) {
  const whole = Math.max(0, Math.round(ms));
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  const h = Math.floor(whole / 3600000);
  const m = Math.floor((whole % 3600000) / 60000);
  const s = Math.floor((whole % 60000) / 1000);
  return `${pad(h)}:${pad(m)}:${pad(s)},${pad(whole % 1000, 3)}`;
}

// entries: [{ who, text, original, at (Date), startMs, endMs }], in the order they were said.
export function asText(room, entries) {
  const lines = [`Parley room ${room}`, ""];
  for (const e of entries) {
    lines.push(`[${clock(e.at)}] ${e.who}: ${e.text}`);
    if (e.original && e.original !== e.text) lines.push(`    (${e.original})`);
  }
  return lines.join("\n") + "\n";
}

export function asSrt(entries) {
  return entries
    .map((e, i) => `${i + 1}\n${srtTime(e.startMs)} --> ${srtTime(e.endMs)}\n${e.who}: ${e.text}\n`)
    .join("\n");
}

export function download(name, text, type) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}
