'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { parse, UsageError } = require('../args');

test('defaults fill what is not given', () => {
  const o = parse(['--room', 'cafe', '--listen', 'es']);
  assert.equal(o.address, '127.0.0.1:50051');
  assert.equal(o.create, false);
  assert.equal(o.outputRate, 16000);
  assert.equal(o.outputFormat, 'wav');
  assert.equal(o.bitrate, 24000);
  assert.equal(o.quietSeconds, 3);
  assert.equal(o.connectTimeout, 10);
  assert.equal(o.expect, undefined);
  assert.equal(o.waitSeconds, undefined);
});

test('every option is read', () => {
  const o = parse([
    '--address', '[::1]:6000', '--room', 'r', '--create', '--token', 't', '--name', 'Ana',
    '--speak', 'en', '--listen', 'es', '--input', 'a.wav', '--realtime', '--output', 'out',
    '--output-rate', '22050', '--output-format', 'opus', '--bitrate', '32000', '--interim', '--expect', '2', '--quiet-seconds', '1.5',
    '--wait-seconds', '30', '--connect-timeout', '2', '--api-key', 'k', '--ca', 'ca.pem',
    '--cert', 'c.pem', '--key', 'c.key',
  ]);
  assert.deepEqual(o, {
    address: '[::1]:6000', room: 'r', create: true, token: 't', apiKey: 'k', ca: 'ca.pem',
    cert: 'c.pem', key: 'c.key',
    name: 'Ana', speak: 'en',
    listen: 'es', input: 'a.wav', realtime: true, output: 'out', outputRate: 22050,
    outputFormat: 'opus', bitrate: 32000,
    interim: true, expect: 2, quietSeconds: 1.5, waitSeconds: 30, connectTimeout: 2,
  });
});

test('help is not an error', () => {
  assert.equal(parse(['--help']), null);
  assert.equal(parse(['-h']), null);
});

test('bad arguments are usage errors that say what is wrong', () => {
  const cases = [
    [['--listen', 'es'], /--room is required/],
    [['--room', 'r'], /--listen is required/],
    [['--room', 'r', '--listen', 'es', '--what'], /--what/],
    [['--room', 'r', '--listen', 'es', 'extra'], /extra/],
    [['--room', 'r', '--listen', 'es', '--address', 'localhost'], /HOST:PORT/],
    [['--room', 'r', '--listen', 'es', '--expect', '0'], /--expect must be a number >= 1/],
    [['--room', 'r', '--listen', 'es', '--expect', 'two'], /--expect/],
    [['--room', 'r', '--listen', 'es', '--output-rate', '16000.5'], /whole number/],
    [['--room', 'r', '--listen', 'es', '--wait-seconds', ''], /--wait-seconds/],
    [['--room', 'r', '--listen', 'es', '--output-format', 'mp3'], /wav or opus, not 'mp3'/],
    [['--room', 'r', '--listen', 'es', '--bitrate', '100'], /--bitrate must be a number >= 6000/],
  ];
  for (const [argv, message] of cases) {
    const expected = (error) => error instanceof UsageError && message.test(error.message);
    assert.throws(() => parse(argv), expected, argv.join(' '));
  }
});
