// The Parley page: create or join a room, talk through the microphone, hear the translations,
// read the captions (with their time and how long after the speech they came), see who is in
// the room and save the transcript. It speaks the gateway's contract only: GET /languages,
// GET /create-room, and WS /ws/{room}?target_lang=&source_lang=&name=&audio_in=&audio_out=.
// Where the browser can, the microphone goes out as the WebM Opus its MediaRecorder records and
// translations come back as one Ogg Opus file per utterance (a tenth of PCM's bytes); otherwise,
// or with ?audio=pcm in the page's address, 16 kHz 16-bit mono PCM both ways.

import { asSrt, asText, clock, download } from "./transcript.js";

const RATE = 16000;
const NOTICE_MS = { info: 10000, warning: 20000 }; // errors stay until dismissed
const LEVEL_EVERY_MS = 100;
const RECORDED = "audio/webm;codecs=opus";
const RECORD_EVERY_MS = 100;
const pcmOnly = new URLSearchParams(location.search).get("audio") === "pcm";
const OPUS_IN = !pcmOnly && Boolean(window.MediaRecorder?.isTypeSupported(RECORDED));
const OPUS_OUT = !pcmOnly && new Audio().canPlayType('audio/ogg; codecs="opus"') !== "";

const $ = (id) => document.getElementById(id);
const names = (() => {
  try {
    const display = new Intl.DisplayNames([navigator.language || "en"], { type: "language" });
    return (code) => display.of(code) || code;
  } catch {
    return (code) => code;
  }
})();
const state = {
  ws: null, joined: false, audio: null, mic: null, muted: false, playAt: 0, pendingAudio: null,
  backlog: [], levelTimer: null, joinedAt: 0, room: "", entries: new Map(), recorder: null,
  sending: Promise.resolve(), playing: Promise.resolve(),
};

// --- languages ------------------------------------------------------------------------------

async function loadLanguages() {
  let languages;
  try {
    const reply = await fetch("/languages");
    const body = await reply.json();
    if (!reply.ok) throw new Error(body.detail || reply.statusText);
    languages = body.languages;
  } catch (error) {
    $("languages-state").textContent =
      `Could not load the languages: ${error.message}. Reload the page to try again.`;
    $("languages-state").classList.add("error-state");
    return;
  }
  const wanted = (navigator.language || "en").slice(0, 2);
  const speak = languages.filter((l) => l.heard);
  // A listener's language needs a way in (a translation into it, or speech in it) and a voice.
  const hear = languages.filter((l) => l.spoken && (l.heard || l.translated_from.length));
  $("speak").replaceChildren(new Option("Detect automatically", ""));
  for (const l of speak) $("speak").add(new Option(names(l.language), l.language));
  for (const select of [$("hear"), $("hear-live")]) {
    select.replaceChildren(
      ...hear.map((l) => new Option(names(l.language), l.language, false, l.language === wanted)),
    );
  }
  $("languages-state").textContent =
    `${speak.length} languages heard, ${hear.length} spoken, as this server offers them.`;
  $("join").disabled = false;
}

// --- notices --------------------------------------------------------------------------------

function notice(text, severity = "info") {
  const item = document.createElement("li");
  item.className = severity;
  item.innerHTML = '<span class="message"></span><button type="button" class="dismiss"' +
    ' aria-label="Dismiss">×</button>';
  item.querySelector(".message").textContent = text;
  item.querySelector(".dismiss").onclick = () => item.remove();
  $("notices").prepend(item);
  if (NOTICE_MS[severity]) setTimeout(() => item.remove(), NOTICE_MS[severity]);
}

// --- microphone and speaker -----------------------------------------------------------------

function micState(text, kind = "") {
  $("mic-state").textContent = text;
  $("mic-state").className = `mic-state ${kind}`;
}

async function watchPermission() {
  try {
    const status = await navigator.permissions.query({ name: "microphone" });
    const show = () => {
      if (state.mic) return;
      const said = {
        granted: ["allowed", "ok"],
        denied: ["blocked: allow it in the browser's site settings, then reload", "error"],
        prompt: ["the browser will ask when you join", ""],
      }[status.state];
      if (said) micState(...said);
    };
    show();
    status.onchange = show;
  } catch {
    // Browsers without the Permissions API for microphones ask at getUserMedia.
  }
}

async function openAudio() {
  micState("asking the browser…");
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
  });
  let context;
  let source;
  try {
    // PCM goes out at 16 kHz: the browser resamples the microphone. Opus needs no such rate.
    context = OPUS_IN ? new AudioContext() : new AudioContext({ sampleRate: RATE });
    source = context.createMediaStreamSource(stream);
  } catch {
    context = new AudioContext(); // some browsers refuse a rate other than the device's
    source = context.createMediaStreamSource(stream);
  }
  if (OPUS_IN) record(stream);
  else await capturePcm(context, source);
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  const frame = new Float32Array(analyser.fftSize);
  state.levelTimer = setInterval(() => {
    analyser.getFloatTimeDomainData(frame);
    const rms = Math.sqrt(frame.reduce((sum, x) => sum + x * x, 0) / frame.length);
    const level = state.muted ? 0 : Math.min(1, rms * 5);
    $("level").value = level;
    $("level").dataset.peak = Math.max(Number($("level").dataset.peak || 0), level).toFixed(3);
  }, LEVEL_EVERY_MS);
  await context.resume();
  state.audio = context;
  state.mic = stream;
  micState("on", "ok");
}

// The microphone as WebM Opus, a piece every 100 ms, sent in order (the first holds the header).
function record(stream) {
  const recorder = new MediaRecorder(stream, { mimeType: RECORDED, audioBitsPerSecond: 32000 });
  recorder.ondataavailable = (event) => {
    state.sending = state.sending.then(() => event.data.arrayBuffer()).then(sendAudio);
  };
  recorder.start(RECORD_EVERY_MS);
  state.recorder = recorder;
}

// The microphone as 16 kHz 16-bit PCM from an AudioWorklet, 100 ms a message.
async function capturePcm(context, source) {
  await context.audioWorklet.addModule("capture.js");
  const capture = new AudioWorkletNode(context, "pcm16-capture", {
    processorOptions: { targetRate: RATE },
  });
  capture.port.onmessage = (event) => {
    if (!state.muted) sendAudio(event.data);
  };
  source.connect(capture);
  capture.connect(context.destination); // keeps the worklet running; its output is silent
}

function sendAudio(data) {
  const ws = state.ws;
  if (ws?.readyState === WebSocket.OPEN) ws.send(data);
  // What is said while the socket opens is kept (up to 5 s) and sent once it is open; a
  // recording's first piece always, since it holds the header.
  else if (state.backlog.length < 50) state.backlog.push(data);
}

function micError(error) {
  const blocked = error.name === "NotAllowedError" || error.name === "SecurityError";
  const missing = error.name === "NotFoundError";
  micState(blocked ? "blocked" : missing ? "none found" : "unavailable", "error");
  return blocked
    ? "The microphone is blocked: allow it in the browser's site settings, then join again."
    : missing ? "No microphone was found: plug one in, then join again."
    : `The microphone could not be opened: ${error.message}`;
}

// Utterances play one after another, never over each other, each starting where the previous
// one ends (Opus files are decoded in the order they came).
function play(buffer, described) {
  const context = state.audio;
  if (!context || buffer.byteLength === 0) return;
  if (described?.encoding === "ogg_opus") {
    state.playing = state.playing
      .then(() => context.decodeAudioData(buffer))
      .then((clip) => schedule(clip, described))
      .catch((error) => notice(`Could not play a translation: ${error.message}`, "warning"));
    return;
  }
  const samples = new Int16Array(buffer);
  const clip = context.createBuffer(1, samples.length, RATE);
  const channel = clip.getChannelData(0);
  for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
  schedule(clip, described);
}

function schedule(clip, described) {
  const context = state.audio;
  if (!context) return;
  const node = context.createBufferSource();
  node.buffer = clip;
  node.connect(context.destination);
  state.playAt = Math.max(state.playAt, context.currentTime + 0.05);
  node.start(state.playAt);
  state.playAt += clip.duration;
  markHeard(described);
}

function closeAudio() {
  clearInterval(state.levelTimer);
  if (state.recorder?.state === "recording") state.recorder.stop();
  state.recorder = null;
  state.mic?.getTracks().forEach((track) => track.stop());
  state.audio?.close();
  state.audio = null;
  state.mic = null;
  $("level").value = 0;
  micState("off");
}

// --- people and captions --------------------------------------------------------------------

function setStatus(text, kind = "") {
  $("status").textContent = text;
  $("status").className = `status ${kind}`;
}

function showPeople(message) {
  $("count").textContent = message.count;
  $("people").replaceChildren(
    ...message.participants.map((p) => {
      const item = document.createElement("li");
      item.className = p.speaking ? "speaking" : "";
      const speaks = p.speak_language ? names(p.speak_language) : "detected";
      item.innerHTML = '<span class="dot"></span><strong></strong> <small></small>';
      item.querySelector("strong").textContent = p.name + (p.you ? " (you)" : "");
      item.querySelector("small").textContent =
        `speaks ${speaks}, hears ${names(p.listen_language)}${p.muted ? ", muted" : ""}`;
      return item;
    }),
  );
}

function captionItem(utteranceId) {
  return document.querySelector(`#captions li[data-utterance="${CSS.escape(utteranceId)}"]`);
}

function sinceJoin() {
  return performance.now() - state.joinedAt;
}

function showCaption(c) {
  let item = captionItem(c.utterance_id);
  if (!item) {
    item = document.createElement("li");
    item.dataset.utterance = c.utterance_id;
    item.innerHTML = '<div class="who"><span class="speaker"></span><time></time>' +
      '<span class="latency"></span></div><p class="text"></p><p class="original"></p>' +
      '<p class="issue"></p>';
    item.startMs = sinceJoin();
    $("captions").append(item);
    $("empty").hidden = true;
  }
  const isTranslation = translated(c);
  item.dataset.final = String(c.is_final);
  item.classList.toggle("self", c.self);
  const who = c.self ? "You" : c.speaker_name;
  item.querySelector(".speaker").textContent = who +
    (isTranslation ? ` · ${c.original_language} → ${c.language}` : ` · ${c.original_language}`);
  // Partial captions are not translated yet: show what is being said until the final one.
  const text = c.is_final ? c.text || c.original_text : c.original_text;
  item.querySelector(".text").textContent = text;
  item.querySelector(".original").textContent =
    c.is_final && isTranslation ? c.original_text : "";
  if (c.is_final) finalise(item, c, who, text);
  item.scrollIntoView({ block: "end" });
}

function finalise(item, c, who, text) {
  const at = new Date();
  const time = item.querySelector("time");
  time.dateTime = at.toISOString();
  time.textContent = clock(at);
  // How long after the end of the speech the text was ready, from the server's timings.
  const t = c.timings || {};
  const ready = (t.endpointing_ms || 0) + (t.recognition_ms || 0) + (t.translation_ms || 0);
  item.readyMs = ready;
  item.finalAt = performance.now();
  item.dataset.latencyMs = String(ready);
  const latency = item.querySelector(".latency");
  latency.textContent = `text ${(ready / 1000).toFixed(1)} s after speech`;
  latency.title = `end of speech confirmed after ${t.endpointing_ms} ms, recognised in ` +
    `${t.recognition_ms} ms, translated in ${t.translation_ms} ms`;
  state.entries.set(c.utterance_id, {
    who, text, original: translated(c) ? c.original_text : "", at,
    startMs: item.startMs, endMs: Math.max(sinceJoin(), item.startMs + 1000),
  });
  $("save-txt").disabled = $("save-srt").disabled = false;
}

function translated(c) {
  return c.language !== c.original_language;
}

function markHeard(audio) {
  if (!audio) return;
  const item = captionItem(audio.utterance_id);
  if (!item) return;
  item.dataset.heard = "true";
  // End of speech -> heard: the text's delay, then the wait for its speech on this page.
  const heard = (item.readyMs || 0) + (item.finalAt ? performance.now() - item.finalAt : 0);
  item.dataset.heardMs = String(Math.round(heard));
  const latency = item.querySelector(".latency");
  latency.textContent = `heard ${(heard / 1000).toFixed(1)} s after speech`;
  latency.title += `; first audio synthesised in ${audio.timings?.synthesis_first_chunk_ms} ms` +
    `; ${audio.duration_ms} ms of speech by ${audio.voice}`;
}

function showIssue(message) {
  const item = message.utterance_id && captionItem(message.utterance_id);
  if (item) item.querySelector(".issue").textContent = message.message;
  notice(message.message, message.severity);
}

// --- the room -------------------------------------------------------------------------------

function onMessage(event) {
  if (typeof event.data !== "string") {
    play(event.data, state.pendingAudio);
    state.pendingAudio = null;
    return;
  }
  const message = JSON.parse(event.data);
  switch (message.type) {
    case "joined":
      state.joined = true;
      state.joinedAt = performance.now();
      $("room-id").textContent = message.room_id;
      $("room-name").textContent = message.room_name || "Room";
      setStatus("live", "live");
      setControls(true);
      break;
    case "participants_update":
      showPeople(message);
      break;
    case "caption":
      showCaption(message);
      break;
    case "audio": // describes the binary message that follows
      state.pendingAudio = message;
      break;
    case "notice":
      showIssue(message);
      break;
    case "error":
      showRoomError(message.message);
      break;
    case "room_closed":
      showRoomError(`The room was closed: ${message.reason}`);
      break;
  }
}

function showRoomError(text) {
  $("room-error").textContent = text;
  $("room-error").hidden = false;
  notice(text, "error");
}

function setControls(live) {
  for (const id of ["hear-live", "mute", "copy", "leave"]) $(id).disabled = !live;
}

function ended(close) {
  const left = close.code === 1000;
  setStatus(left ? "left" : `closed: ${close.reason || close.code}`, "closed");
  closeAudio();
  state.ws = null;
  state.backlog = [];
  setControls(false);
  $("people").replaceChildren();
  $("count").textContent = "0";
  $("join").disabled = false;
  $("join-form").hidden = false;
  // What was said stays readable and can be saved; a refused join has nothing to show.
  $("room-view").hidden = !state.joined;
  $("join").focus();
}

async function join(event) {
  event.preventDefault();
  const room = $("room").value.trim();
  $("join").disabled = true;
  try {
    await openAudio();
  } catch (error) {
    $("join").disabled = false;
    return notice(micError(error), "error");
  }
  const query = new URLSearchParams({
    target_lang: $("hear").value,
    source_lang: $("speak").value,
    name: $("name").value.trim(),
    audio_in: OPUS_IN ? "webm_opus" : "pcm",
    audio_out: OPUS_OUT ? "ogg_opus" : "pcm",
  });
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/${encodeURIComponent(room)}?${query}`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    for (const chunk of state.backlog) ws.send(chunk);
    state.backlog = [];
  };
  ws.onmessage = onMessage;
  ws.onclose = ended;
  Object.assign(state, { ws, joined: false, room, entries: new Map(), playAt: 0 });
  $("room-view").dataset.audio = `${query.get("audio_in")}>${query.get("audio_out")}`;
  $("audio-format").textContent = OPUS_IN || OPUS_OUT ? "Opus audio" : "PCM audio";
  $("captions").replaceChildren();
  $("empty").hidden = false;
  $("room-error").hidden = true;
  $("save-txt").disabled = $("save-srt").disabled = true;
  $("hear-live").value = $("hear").value;
  $("room-id").textContent = room;
  $("room-name").textContent = "Room";
  setStatus("connecting");
  setControls(false);
  $("join-form").hidden = true;
  $("room-view").hidden = false;
  history.replaceState(null, "", `?room=${encodeURIComponent(room)}`);
}

function send(message) {
  if (state.ws?.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}

async function createRoom() {
  const reply = await fetch("/create-room");
  const body = await reply.json();
  if (!reply.ok) return notice(`Could not create a room: ${body.detail}`, "error");
  $("room").value = body.room_id;
}

function save(kind) {
  const entries = [...state.entries.values()];
  if (kind === "srt") download(`parley-${state.room}.srt`, asSrt(entries), "application/x-subrip");
  else download(`parley-${state.room}.txt`, asText(state.room, entries), "text/plain");
}

function start() {
  loadLanguages();
  watchPermission();
  const room = new URLSearchParams(location.search).get("room");
  if (room) $("room").value = room;
  $("create").onclick = createRoom;
  $("join-form").onsubmit = join;
  $("hear-live").onchange = () => send({ type: "update", target_lang: $("hear-live").value });
  $("mute").onclick = () => {
    state.muted = !state.muted;
    $("mute").textContent = state.muted ? "Unmute" : "Mute";
    $("mute").setAttribute("aria-pressed", String(state.muted));
    micState(state.muted ? "muted" : "on", state.muted ? "" : "ok");
    // A recording goes on (silent) while muted: a WebM stream cannot skip pieces.
    state.mic?.getAudioTracks().forEach((track) => { track.enabled = !state.muted; });
    send({ type: "update", muted: state.muted });
  };
  $("copy").onclick = () => {
    const link = `${location.origin}${location.pathname}?room=${$("room-id").textContent}`;
    navigator.clipboard?.writeText(link).then(() => notice("Invite link copied"));
  };
  $("leave").onclick = () => send({ type: "leave" });
  $("save-txt").onclick = () => save("txt");
  $("save-srt").onclick = () => save("srt");
}

start();
