'use strict';
// RIFF/WAV reading and writing with Buffer: just what a Parley client streams and saves.
// Reads 8/16/24/32-bit integer PCM (converted to 16-bit) and 32-bit float; writes 16-bit PCM or
// 32-bit float.

const PCM = 1;
const IEEE_FLOAT = 3;
const EXTENSIBLE = 0xfffe;

class WavError extends Error {}

/** 16-bit little-endian samples from `bits`-bit integer PCM. */
function toPcm16(data, bits) {
  const width = bits / 8;
  const count = Math.floor(data.length / width);
  const out = Buffer.alloc(count * 2);
  for (let i = 0; i < count; i++) {
    const at = i * width;
    // 8-bit WAV is unsigned; wider samples keep their two most significant bytes.
    const sample = bits === 8 ? (data[at] - 128) << 8 : data.readInt16LE(at + width - 2);
    out.writeInt16LE(sample, i * 2);
  }
  return out;
}

/**
 * Parses a WAV file.
 * @param {Buffer} buffer the whole file
 * @returns {{sampleRate: number, channels: number, encoding: 'LINEAR16'|'FLOAT32', data: Buffer}}
 *   data holds whole frames of interleaved samples in `encoding`
 * @throws {WavError} if it is not a WAV file of a supported kind
 */
function readWav(buffer) {
  if (buffer.length < 12 || buffer.toString('ascii', 0, 4) !== 'RIFF') {
    throw new WavError('not a WAV file (no RIFF header)');
  }
  if (buffer.toString('ascii', 8, 12) !== 'WAVE') throw new WavError('not a WAV file (not WAVE)');
  let fmt = null;
  let data = null;
  for (let at = 12; at + 8 <= buffer.length; ) {
    const id = buffer.toString('ascii', at, at + 4);
    const size = buffer.readUInt32LE(at + 4);
    // A writer that streamed the file may leave the size unset: take what is there.
    const body = buffer.subarray(at + 8, Math.min(at + 8 + size, buffer.length));
    if (id === 'fmt ' && body.length >= 16) {
      fmt = {
        tag: body.readUInt16LE(0),
        channels: body.readUInt16LE(2),
        sampleRate: body.readUInt32LE(4),
        bits: body.readUInt16LE(14),
      };
      if (fmt.tag === EXTENSIBLE && body.length >= 26) fmt.tag = body.readUInt16LE(24);
    } else if (id === 'data') {
      data = body;
    }
    at += 8 + size + (size % 2);
  }
  if (!fmt) throw new WavError('WAV file has no fmt chunk');
  if (!data) throw new WavError('WAV file has no data chunk');
  if (fmt.channels < 1 || fmt.sampleRate < 1) throw new WavError('WAV header is corrupt');
  let encoding;
  if (fmt.tag === PCM && [8, 16, 24, 32].includes(fmt.bits)) {
    encoding = 'LINEAR16';
    if (fmt.bits !== 16) data = toPcm16(data, fmt.bits);
  } else if (fmt.tag === IEEE_FLOAT && fmt.bits === 32) {
    encoding = 'FLOAT32';
  } else {
    throw new WavError(
      `unsupported WAV encoding (format ${fmt.tag}, ${fmt.bits} bits): ` +
        'use integer PCM or 32-bit float',
    );
  }
  const frame = fmt.channels * (encoding === 'LINEAR16' ? 2 : 4);
  data = data.subarray(0, data.length - (data.length % frame));
  return { sampleRate: fmt.sampleRate, channels: fmt.channels, encoding, data };
}

/**
 * A WAV file holding `data`.
 * @param {{sampleRate: number, channels?: number, encoding?: 'LINEAR16'|'FLOAT32', data: Buffer}}
 * @returns {Buffer}
 */
function encodeWav({ sampleRate, channels = 1, encoding = 'LINEAR16', data }) {
  const float = encoding === 'FLOAT32';
  const width = float ? 4 : 2;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(float ? IEEE_FLOAT : PCM, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * channels * width, 28);
  header.writeUInt16LE(channels * width, 32);
  header.writeUInt16LE(width * 8, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

module.exports = { readWav, encodeWav, WavError };
