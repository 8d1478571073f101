'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { readWav, encodeWav, WavError } = require('../wav');

/** A WAV file built by hand: fmt fields, optional extra chunks before data. */
function wavFile({ tag = 1, channels = 1, rate = 16000, bits = 16, data, extra = [], ext }) {
  const fmt = Buffer.alloc(ext === undefined ? 16 : 40);
  fmt.writeUInt16LE(ext === undefined ? tag : 0xfffe, 0);
  fmt.writeUInt16LE(channels, 2);
  fmt.writeUInt32LE(rate, 4);
  fmt.writeUInt32LE((rate * channels * bits) / 8, 8);
  fmt.writeUInt16LE((channels * bits) / 8, 12);
  fmt.writeUInt16LE(bits, 14);
  if (ext !== undefined) {
    fmt.writeUInt16LE(22, 16);
    fmt.writeUInt16LE(ext, 24);
  }
  const chunk = (id, body) => {
    const head = Buffer.alloc(8);
    head.write(id, 0, 'ascii');
    head.writeUInt32LE(body.length, 4);
    return Buffer.concat([head, body, Buffer.alloc(body.length % 2)]);
  };
  const body = Buffer.concat([
    Buffer.from('WAVE'),
    chunk('fmt ', fmt),
    ...extra.map(([id, b]) => chunk(id, b)),
    chunk('data', data),
  ]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'ascii');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

const int16 = (values) => Buffer.from(Int16Array.from(values).buffer);

test('16-bit PCM survives a round trip through encodeWav and readWav', () => {
  const data = int16([0, 1, -1, 32767, -32768, 1234]);
  const wav = readWav(encodeWav({ sampleRate: 16000, data }));
  assert.deepEqual(wav, { sampleRate: 16000, channels: 1, encoding: 'LINEAR16', data });
});

test('a written file has the canonical 44-byte header', () => {
  const file = encodeWav({ sampleRate: 22050, channels: 1, data: int16([1, 2, 3]) });
  assert.equal(file.length, 44 + 6);
  assert.equal(file.toString('ascii', 0, 4), 'RIFF');
  assert.equal(file.readUInt32LE(4), file.length - 8);
  assert.equal(file.readUInt32LE(24), 22050);
  assert.equal(file.readUInt32LE(28), 44100);
  assert.equal(file.readUInt16LE(34), 16);
});

test('32-bit float is kept as FLOAT32 and written back as IEEE float', () => {
  const data = Buffer.from(Float32Array.from([0, 0.5, -0.25, 1]).buffer);
  const file = encodeWav({ sampleRate: 48000, channels: 2, encoding: 'FLOAT32', data });
  assert.equal(file.readUInt16LE(20), 3);
  assert.deepEqual(readWav(file), { sampleRate: 48000, channels: 2, encoding: 'FLOAT32', data });
});

test('24-bit stereo PCM becomes 16-bit, keeping the most significant bytes', () => {
  // Frames (L, R): (0x123456, -1), (0x7fffff, -0x800000).
  const data = Buffer.from([0x56, 0x34, 0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0x80]);
  const wav = readWav(wavFile({ channels: 2, rate: 44100, bits: 24, data }));
  assert.equal(wav.encoding, 'LINEAR16');
  assert.equal(wav.channels, 2);
  assert.equal(wav.sampleRate, 44100);
  assert.deepEqual(wav.data, int16([0x1234, -1, 0x7fff, -0x8000]));
});

test('8-bit PCM is unsigned and becomes signed 16-bit', () => {
  const wav = readWav(wavFile({ bits: 8, rate: 8000, data: Buffer.from([128, 255, 0]) }));
  assert.deepEqual(wav.data, int16([0, 127 << 8, -128 << 8]));
});

test('WAVE_FORMAT_EXTENSIBLE and chunks before the data (odd sizes padded) are read', () => {
  const data = int16([5, 6, 7]);
  const extra = [
    ['LIST', Buffer.from('odd')],
    ['fact', Buffer.alloc(4)],
  ];
  const wav = readWav(wavFile({ ext: 1, data, extra }));
  assert.deepEqual(wav.data, data);
});

test('a trailing partial frame is dropped', () => {
  const wav = readWav(wavFile({ channels: 2, data: Buffer.from([1, 0, 2, 0, 3, 0]) }));
  assert.deepEqual(wav.data, int16([1, 2]));
});

test('files that are not usable WAV are refused with a reason', () => {
  assert.throws(() => readWav(Buffer.from('{"json": true}')), /no RIFF header/);
  const data = Buffer.alloc(8);
  assert.throws(() => readWav(wavFile({ tag: 3, bits: 64, data })), /format 3, 64 bits/);
  const noData = wavFile({ data: Buffer.alloc(0) });
  noData.write('junk', 36, 'ascii');
  assert.throws(() => readWav(noData), WavError);
  assert.throws(() => readWav(noData), /no data chunk/);
});
