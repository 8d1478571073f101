'use strict';
// One participant in a room: the Join stream, the audio sent, what is heard and when to leave.

const fs = require('node:fs');
const path = require('node:path');
const { grpc } = require('./parley');
const { encodeWav } = require('./wav');

const CHUNK_SECONDS = 0.1;
// Silence sent after the input, so that the server's endpointer sees its last sentence end.
const TAIL_SILENCE_SECONDS = 1.0;
const LEAVE_GRACE_MS = 5000;
const COMPRESSED_CHUNK = 4096; // bytes of a compressed input per message
const TICK_MS = 100;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function safeName(utteranceId) {
  return utteranceId.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_');
}

/** Seconds in a google.protobuf.Duration decoded with longs as strings. */
function durationSeconds(duration) {
  return duration ? Number(duration.seconds) + duration.nanos / 1e9 : 0;
}

class Session {
  /**
   * @param {object} clients from parley.createClients
   * @param {object} options from args.parse
   * @param {object} [io]
   * @param {object|null} [io.input] a WAV from wav.readWav, the speech to send
   * @param {(line: string) => void} [io.print] where to print what happens
   */
  constructor(clients, options, { input = null, print = console.log } = {}) {
    this.clients = clients;
    this.options = options;
    this.input = input;
    this.print = print;
    this.wantsAudio = Boolean(options.output);
    this.me = '';
    this.names = new Map();
    this.utterances = new Map();
    this.heard = 0;
    this.saved = [];
    this.startedAt = Date.now();
    this.lastEventAt = this.startedAt;
    this.inputDoneAt = input ? null : this.startedAt;
    this.leaving = null;
    this.ended = false;
  }

  /**
   * Joins, sends the input, listens, leaves.
   * @returns {Promise<{heard: number, saved: string[], reason: string}>}
   * @throws the gRPC error that ended the call (code and details), if any
   */
  run() {
    this.call = this.clients.rooms.Join();
    this.call.write({ join: this.joinRoom() });
    this.finished = new Promise((resolve, reject) => {
      this.call.on('data', (event) => this.receive(event));
      this.call.on('end', () => {
        this.ended = true;
        resolve();
      });
      this.call.on('error', (error) => {
        this.ended = true;
        // Our own cancel after the leave grace period is a normal end.
        if (this.leaving && error.code === grpc.status.CANCELLED) resolve();
        else reject(error);
      });
    });
    const ticker = setInterval(() => this.tick(), TICK_MS);
    return this.finished
      .then(() => {
        if (!this.leaving) this.leaving = this.roomClosed ? 'the room closed' : 'the server ended';
        return this.result();
      })
      .finally(() => {
        clearInterval(ticker);
        this.saveIncomplete();
      });
  }

  joinRoom() {
    const o = this.options;
    const input = this.input;
    return {
      room_id: o.room,
      display_name: o.name,
      speak_language: o.speak,
      listen_language: o.listen,
      input_format: !input
        ? {}
        : input.compressed
          ? { encoding: `AUDIO_ENCODING_${input.encoding}` }
          : {
              encoding: `AUDIO_ENCODING_${input.encoding}`,
              sample_rate_hz: input.sampleRate,
              channels: input.channels,
            },
      output_format:
        o.outputFormat === 'opus'
          ? { encoding: 'AUDIO_ENCODING_OGG_OPUS', bitrate_bps: o.bitrate }
          : { encoding: 'AUDIO_ENCODING_LINEAR16', sample_rate_hz: o.outputRate, channels: 1 },
      delivery: this.wantsAudio
        ? 'DELIVERY_MODE_AUDIO_AND_CAPTIONS'
        : 'DELIVERY_MODE_CAPTIONS_ONLY',
      interim_captions: o.interim,
      join_token: o.token,
      create_if_missing: o.create,
    };
  }

  /** Leaves the room (idempotent): LeaveRoom, half-close, and a cancel if the server lingers. */
  leave(reason) {
    if (this.leaving) return;
    this.leaving = reason;
    try {
      this.call.write({ leave: {} });
      this.call.end();
    } catch {
      // The call already ended.
    }
    setTimeout(() => this.call.cancel(), LEAVE_GRACE_MS).unref();
  }

  result() {
    return { heard: this.heard, saved: this.saved, reason: this.leaving };
  }

  stamp() {
    return `[${((Date.now() - this.startedAt) / 1000).toFixed(2).padStart(6)}s]`;
  }

  tick() {
    if (this.leaving || !this.me) return;
    const o = this.options;
    const now = Date.now();
    if (o.waitSeconds !== undefined && now - this.joinedAt >= o.waitSeconds * 1000) {
      this.leave(`${o.waitSeconds} s passed (--wait-seconds)`);
    } else if (this.inputDoneAt === null) {
      return;
    } else if (o.expect !== undefined) {
      if (this.heard >= o.expect) this.leave(`got the ${o.expect} expected utterance(s)`);
    } else if (this.input) {
      const quietSince = Math.max(this.lastEventAt, this.inputDoneAt);
      if (now - quietSince >= o.quietSeconds * 1000) {
        this.leave(`input sent and ${o.quietSeconds} s of quiet`);
      }
    }
  }

  async send() {
    if (this.input.compressed) return this.sendAsIs();
    const input = this.input;
    const frame = input.channels * (input.encoding === 'LINEAR16' ? 2 : 4);
    const frames = Math.max(1, Math.round(input.sampleRate * CHUNK_SECONDS));
    const step = frames * frame;
    const tail = Buffer.alloc(Math.round(input.sampleRate * TAIL_SILENCE_SECONDS) * frame);
    const data = Buffer.concat([input.data, tail]);
    const seconds = input.data.length / frame / input.sampleRate;
    this.print(`${this.stamp()} sending ${seconds.toFixed(2)} s of speech`);
    const start = Date.now();
    for (let at = 0; at < data.length && !this.leaving && !this.ended; at += step) {
      if (this.options.realtime) {
        await sleep(start + (at / frame / input.sampleRate) * 1000 - Date.now());
      }
      await this.write(data.subarray(at, at + step));
    }
    this.sent();
  }

  /** Sends one piece of audio, waiting while the stream is full. */
  async write(data) {
    if (!this.call.write({ audio: { data } })) {
      await new Promise((resolve) => {
        this.call.once('drain', resolve);
        this.finished.then(resolve, resolve);
      });
    }
  }

  sent() {
    this.inputDoneAt = Date.now();
    if (!this.leaving) this.print(`${this.stamp()} input sent`);
  }

  /** A compressed file, in pieces as a recorder gives them; the server reads it at the pace of
   * speech (it knows the duration, the client does not). */
  async sendAsIs() {
    const { data, encoding } = this.input;
    this.print(`${this.stamp()} sending ${data.length} bytes of ${encoding}`);
    for (let at = 0; at < data.length && !this.leaving && !this.ended; at += COMPRESSED_CHUNK) {
      await this.write(data.subarray(at, at + COMPRESSED_CHUNK));
    }
    this.sent();
  }

  receive(event) {
    this.lastEventAt = Date.now();
    const kind = event.event;
    const body = event[kind];
    const handler = {
      joined: () => this.onJoined(body),
      participant_joined: () => {
        const p = body.participant;
        this.names.set(p.participant_id, p.display_name);
        const speaks = p.speak_language || 'any language (detected)';
        const hears = p.listen_language;
        this.print(`${this.stamp()} + ${p.display_name} joined (speaks ${speaks}, hears ${hears})`);
      },
      participant_left: () => {
        const reason = body.reason.replace('LEAVE_REASON_', '').toLowerCase();
        this.print(`${this.stamp()} - ${body.participant.display_name} left (${reason})`);
      },
      caption: () => this.onCaption(body),
      audio_begin: () => {
        const u = this.utterance(body.utterance_id, body.speaker_id);
        u.begin = body;
        u.chunks = [];
      },
      audio_chunk: () => {
        const u = this.utterances.get(body.utterance_id);
        if (u && u.begin) u.chunks.push(body.data);
      },
      audio_end: () => {
        const u = this.utterance(body.utterance_id, '');
        this.save(u, body);
        this.complete(u);
      },
      notice: () => this.onNotice(body),
      room_closed: () => {
        this.roomClosed = true;
        this.print(`${this.stamp()} room closed: ${body.reason}`);
      },
    }[kind];
    if (handler) handler();
  }

  onJoined(joined) {
    this.me = joined.participant_id;
    this.joinedAt = Date.now();
    const room = joined.room;
    const others = [];
    for (const p of room.participants) {
      this.names.set(p.participant_id, p.display_name);
      if (p.participant_id !== this.me) {
        others.push(`${p.display_name} (${p.speak_language || '?'}->${p.listen_language})`);
      }
    }
    const who = others.length ? `with ${others.join(', ')}` : 'alone so far';
    this.print(`${this.stamp()} joined room ${room.room_id} as participant ${this.me}, ${who}`);
    if (this.input) {
      this.send().catch((error) => {
        this.print(`${this.stamp()} sending stopped: ${error.message}`);
        this.inputDoneAt = Date.now();
      });
    }
  }

  utterance(id, speakerId) {
    if (!this.utterances.has(id)) {
      this.utterances.set(id, { id, speakerId, begin: null, chunks: [], done: false });
    }
    const u = this.utterances.get(id);
    if (speakerId) u.speakerId = speakerId;
    return u;
  }

  onCaption(c) {
    this.names.set(c.speaker_id, c.speaker_name);
    const own = c.speaker_id === this.me;
    const who = own ? 'you' : c.speaker_name;
    if (!c.is_final) {
      this.print(`${this.stamp()} ... ${who} (${c.original_language}): ${c.original_text}`);
      return;
    }
    const u = this.utterance(c.utterance_id, c.speaker_id);
    const translated = c.language !== c.original_language;
    const route = c.route ? `, ${c.route}` : '';
    const langs = translated ? `${c.original_language}->${c.language}${route}` : c.language;
    const text = c.text || `${c.original_text} [untranslated]`;
    this.print(`${this.stamp()} ${who} (${langs}): ${text}`);
    if (translated && c.text) this.print(`${' '.repeat(10)}original: ${c.original_text}`);
    // Audio follows only for others' speech in another language (or when asked for).
    const audioComes = this.wantsAudio && !own && translated && c.text !== '';
    if (!audioComes) this.complete(u);
  }

  onNotice(n) {
    const severity = n.severity.replace('NOTICE_SEVERITY_', '').toLowerCase();
    this.print(`${this.stamp()} notice (${severity}): ${n.message}`);
    const u = n.utterance_id && this.utterances.get(n.utterance_id);
    if (!u) return;
    const failed =
      n.code === 'NOTICE_CODE_TRANSLATION_FAILED' ||
      (n.code === 'NOTICE_CODE_SYNTHESIS_FAILED' && !u.begin);
    if (failed) this.complete(u);
  }

  complete(u) {
    if (u.done) return;
    u.done = true;
    if (u.speakerId !== this.me) this.heard += 1;
    this.tick();
  }

  save(u, end = null) {
    if (!u.begin || !this.options.output) return;
    const fmt = u.begin.audio_format;
    if (fmt.encoding === 'AUDIO_ENCODING_OGG_OPUS') return this.saveOgg(u, end);
    const encoding = fmt.encoding === 'AUDIO_ENCODING_FLOAT32' ? 'FLOAT32' : 'LINEAR16';
    const channels = fmt.channels || 1;
    const data = Buffer.concat(u.chunks);
    const file = path.join(this.options.output, `${safeName(u.id)}.wav`);
    const sampleRate = fmt.sample_rate_hz;
    fs.writeFileSync(file, encodeWav({ sampleRate, channels, encoding, data }));
    this.saved.push(file);
    const width = encoding === 'FLOAT32' ? 4 : 2;
    const seconds = end
      ? durationSeconds(end.duration)
      : data.length / width / channels / fmt.sample_rate_hz;
    const speaker = this.names.get(u.speakerId) || u.speakerId;
    const notes = [`voice ${u.begin.voice}`];
    if (end && end.dropped_chunks) notes.push(`${end.dropped_chunks} chunks dropped`);
    if (!end) notes.push('incomplete');
    this.print(
      `${this.stamp()} saved ${file}: ${seconds.toFixed(2)} s of ${u.begin.language} ` +
        `speech by ${speaker} (${notes.join(', ')})`,
    );
    u.begin = null;
  }

  /** An utterance's Ogg Opus stream, written as it came: a complete .ogg file. */
  saveOgg(u, end) {
    const data = Buffer.concat(u.chunks);
    const file = path.join(this.options.output, `${safeName(u.id)}.ogg`);
    fs.writeFileSync(file, data);
    this.saved.push(file);
    const seconds = end ? `${durationSeconds(end.duration).toFixed(2)} s` : 'incomplete';
    const speaker = this.names.get(u.speakerId) || u.speakerId;
    this.print(
      `${this.stamp()} saved ${file}: ${seconds} of ${u.begin.language} speech by ${speaker} ` +
        `(voice ${u.begin.voice}, Ogg Opus, ${data.length} bytes)`,
    );
    u.begin = null;
  }

  /** Speech that began but never ended (the room closed, or we left first). */
  saveIncomplete() {
    for (const u of this.utterances.values()) {
      if (u.begin) this.save(u);
    }
  }
}

module.exports = { Session, safeName, durationSeconds };
