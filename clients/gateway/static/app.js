// The Parley page: create or join a room, talk through the microphone, hear the translations,
// read the captions and see who is in the room. It speaks the gateway's contract only:
// GET /create-room, and WS /ws/{room}?target_lang=&source_lang=&name= carrying 16 kHz 16-bit
// mono PCM both ways (one binary message per translated utterance) and JSON text messages.

const RATE = 16000;
// Languages the embedded translation engine (Apertium) translates from, directly or through
// Spanish or English; Romanian only from (Apertium has ro>es and no es>ro).
const LANGUAGES = [
  ["en", "English"], ["es", "Spanish"], ["fr", "French"], ["it", "Italian"],
  ["pt", "Portuguese"], ["ca", "Catalan"], ["gl", "Galician"], ["ro", "Romanian"],
];
const HEARABLE = new Set(["en", "es", "fr", "it", "pt", "ca", "gl"]);
const NAMES = Object.fromEntries(LANGUAGES);

const $ = (id) => document.getElementById(id);
const state = {
  ws: null, joined: false, audio: null, mic: null, muted: false, playAt: 0, pendingAudio: null,
  backlog: [],
};

function fillLanguages() {
  const hear = navigator.language.slice(0, 2);
  $("speak").add(new Option("Detect automatically", ""));
  for (const [code, name] of LANGUAGES) {
    $("speak").add(new Option(name, code));
    if (!HEARABLE.has(code)) continue;
    $("hear").add(new Option(name, code, false, code === hear));
    $("hear-live").add(new Option(name, code));
  }
}

function notice(text, severity = "info") {
  const item = document.createElement("li");
  item.className = severity;
  item.textContent = text;
  $("notices").prepend(item);
  setTimeout(() => item.remove(), 8000);
}

async function createRoom() {
  const reply = await fetch("/create-room");
  const body = await reply.json();
  if (!reply.ok) return notice(`Could not create a room: ${body.detail}`, "error");
  $("room").value = body.room_id;
}

// --- microphone and speaker -----------------------------------------------------------------

async function openAudio() {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
  });
  let context;
  let source;
  try {
    context = new AudioContext({ sampleRate: RATE }); // the browser resamples the microphone
    source = context.createMediaStreamSource(stream);
  } catch {
    context = new AudioContext(); // some browsers refuse a rate other than the device's
    source = context.createMediaStreamSource(stream);
  }
  await context.audioWorklet.addModule("capture.js");
  const capture = new AudioWorkletNode(context, "pcm16-capture", {
    processorOptions: { targetRate: RATE },
  });
  capture.port.onmessage = (event) => {
    const ws = state.ws;
    if (state.muted) return;
    if (ws?.readyState === WebSocket.OPEN) ws.send(event.data);
    // What is said while the socket opens is kept (up to 5 s) and sent once it is open.
    else if (state.backlog.length < 50) state.backlog.push(event.data);
  };
  source.connect(capture);
  capture.connect(context.destination); // keeps the worklet running; its output is silent
  await context.resume();
  state.audio = context;
  state.mic = stream;
}

function play(buffer) {
  const context = state.audio;
  const samples = new Int16Array(buffer);
  if (!context || samples.length === 0) return;
  const clip = context.createBuffer(1, samples.length, RATE);
  const channel = clip.getChannelData(0);
  for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
  const node = context.createBufferSource();
  node.buffer = clip;
  node.connect(context.destination);
  // Utterances play one after another, never over each other.
  state.playAt = Math.max(state.playAt, context.currentTime + 0.05);
  node.start(state.playAt);
  state.playAt += clip.duration;
}

function closeAudio() {
  state.mic?.getTracks().forEach((track) => track.stop());
  state.audio?.close();
  state.audio = null;
  state.mic = null;
}

// --- the room -------------------------------------------------------------------------------

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
      const speaks = p.speak_language ? NAMES[p.speak_language] || p.speak_language : "detected";
      const hears = NAMES[p.listen_language] || p.listen_language;
      item.innerHTML = '<span class="dot"></span><strong></strong> <small></small>';
      item.querySelector("strong").textContent = p.name + (p.you ? " (you)" : "");
      item.querySelector("small").textContent =
        `speaks ${speaks}, hears ${hears}${p.muted ? ", muted" : ""}`;
      return item;
    }),
  );
}

function captionItem(utteranceId) {
  return document.querySelector(`#captions li[data-utterance="${CSS.escape(utteranceId)}"]`);
}

function showCaption(c) {
  let item = captionItem(c.utterance_id);
  if (!item) {
    item = document.createElement("li");
    item.dataset.utterance = c.utterance_id;
    item.innerHTML = '<div class="who"></div><p class="text"></p><p class="original"></p>';
    $("captions").append(item);
  }
  const translated = c.language !== c.original_language;
  item.dataset.final = String(c.is_final);
  item.classList.toggle("self", c.self);
  item.querySelector(".who").textContent = `${c.self ? "You" : c.speaker_name}` +
    (translated ? ` · ${c.original_language} → ${c.language}` : ` · ${c.original_language}`);
  // Partial captions are not translated yet: show what is being said until the final one.
  item.querySelector(".text").textContent = c.is_final ? c.text || c.original_text
    : c.original_text;
  item.querySelector(".original").textContent = c.is_final && translated ? c.original_text : "";
  item.scrollIntoView({ block: "end" });
}

function markHeard(audio) {
  if (!audio) return;
  const item = captionItem(audio.utterance_id);
  if (!item) return;
  item.dataset.heard = "true";
  item.querySelector(".who").title = `spoken by ${audio.voice}, ${audio.duration_ms} ms`;
}

function onMessage(event) {
  if (typeof event.data !== "string") {
    play(event.data);
    markHeard(state.pendingAudio);
    state.pendingAudio = null;
    return;
  }
  const message = JSON.parse(event.data);
  switch (message.type) {
    case "joined":
      state.joined = true;
      $("room-id").textContent = message.room_id;
      setStatus("live", "live");
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
      notice(message.message, message.severity);
      break;
    case "error":
      notice(message.message, "error");
      break;
    case "room_closed":
      notice(`The room was closed: ${message.reason}`, "warning");
      break;
  }
}

async function join(event) {
  event.preventDefault();
  const room = $("room").value.trim();
  $("join").disabled = true;
  try {
    await openAudio();
  } catch (error) {
    $("join").disabled = false;
    return notice(`No microphone: ${error.message}`, "error");
  }
  const query = new URLSearchParams({
    target_lang: $("hear").value,
    source_lang: $("speak").value,
    name: $("name").value.trim(),
  });
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/${encodeURIComponent(room)}?${query}`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    for (const chunk of state.backlog) ws.send(chunk);
    state.backlog = [];
  };
  ws.onmessage = onMessage;
  ws.onclose = (close) => {
    setStatus(close.code === 1000 ? "left" : `closed: ${close.reason || close.code}`, "closed");
    closeAudio();
    state.ws = null;
    state.backlog = [];
    $("join").disabled = false;
    $("join-form").hidden = false;
    $("room-view").hidden = !state.joined; // a refused join has nothing to show
  };
  state.ws = ws;
  state.joined = false;
  $("hear-live").value = $("hear").value;
  $("room-id").textContent = room;
  $("join-form").hidden = true;
  $("room-view").hidden = false;
  history.replaceState(null, "", `?room=${encodeURIComponent(room)}`);
}

function send(message) {
  if (state.ws?.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}

function start() {
  fillLanguages();
  const room = new URLSearchParams(location.search).get("room");
  if (room) $("room").value = room;
  $("create").onclick = createRoom;
  $("join-form").onsubmit = join;
  $("hear-live").onchange = () => send({ type: "update", target_lang: $("hear-live").value });
  $("mute").onclick = () => {
    state.muted = !state.muted;
    $("mute").textContent = state.muted ? "Unmute" : "Mute";
    send({ type: "update", muted: state.muted });
  };
  $("copy").onclick = () => {
    const link = `${location.origin}${location.pathname}?room=${$("room-id").textContent}`;
    navigator.clipboard?.writeText(link).then(() => notice("Invite link copied"));
  };
  $("leave").onclick = () => send({ type: "leave" });
}

start();
