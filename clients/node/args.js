'use strict';
// Command line of join.js.

const { parseArgs } = require('node:util');

const USAGE = `usage: node join.js --room ROOM --listen LANG [options]

Joins a room of a Parley server, streams a WAV file as your speech, prints the captions that
arrive and saves each translated utterance you hear as OUTPUT/<utterance_id>.wav.

  --address HOST:PORT    the server (default 127.0.0.1:50051)
  --room ID              the room to join (required)
  --create               create the room if it does not exist
  --token TOKEN          join token of a room that is not open
  --api-key KEY          API key of the server (default: $PARLEY_API_KEY)
  --ca FILE.pem          connect with TLS, checking the server against this CA
  --cert FILE.pem        client certificate, for servers that require mutual TLS
  --key FILE.pem         private key of that certificate
  --name NAME            your display name (default Guest)
  --speak LANG           language you speak, ISO 639-1 (default: detected per utterance)
  --listen LANG          language you want to hear, ISO 639-1 (required)
  --input FILE           speech to send: a WAV (any rate and channels; 16 kHz mono 16-bit is
                         native), or an .ogg/.opus (Ogg Opus), .webm (WebM Opus) or .flac
                         file, sent as it is for the server to decode (end it with a second
                         of silence, or its last sentence is heard when you leave)
  --realtime             send the input at the pace of speech (default: as fast as possible)
  --output DIR           save translated speech here (without it you get captions only)
  --output-rate HZ       sample rate of the saved speech (default 16000)
  --output-format F      wav (default) or opus: each utterance as an Ogg Opus file
                         (OUTPUT/<utterance_id>.ogg, 48 kHz, a tenth of the bytes)
  --bitrate BPS          with --output-format opus: the bitrate (default 24000)
  --interim              also print partial captions
  --expect N             leave once N utterances of others have arrived in full
  --quiet-seconds S      with --input and no --expect: leave once the input is sent and
                         nothing has arrived for S seconds (default 3)
  --wait-seconds S       leave after S seconds in the room whatever happened (default: no limit)
  --connect-timeout S    seconds to wait for the server (default 10)
  -h, --help             this help

Without --input and --expect it listens until --wait-seconds, Ctrl-C or the room closes.
Exit status: 0 when done, 1 on an error or when fewer than --expect utterances arrived.`;

const OPTIONS = {
  address: { type: 'string', default: '127.0.0.1:50051' },
  room: { type: 'string' },
  create: { type: 'boolean', default: false },
  token: { type: 'string', default: '' },
  'api-key': { type: 'string', default: process.env.PARLEY_API_KEY || '' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  name: { type: 'string', default: '' },
  speak: { type: 'string', default: '' },
  listen: { type: 'string' },
  input: { type: 'string' },
  realtime: { type: 'boolean', default: false },
  output: { type: 'string' },
  'output-rate': { type: 'string', default: '16000' },
  'output-format': { type: 'string', default: 'wav' },
  bitrate: { type: 'string', default: '24000' },
  interim: { type: 'boolean', default: false },
  expect: { type: 'string' },
  'quiet-seconds': { type: 'string', default: '3' },
  'wait-seconds': { type: 'string' },
  'connect-timeout': { type: 'string', default: '10' },
  help: { type: 'boolean', short: 'h', default: false },
};

class UsageError extends Error {}

function number(values, name, { integer = false, min = 0 } = {}) {
  const text = values[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min) {
    throw new UsageError(`--${name} must be a number >= ${min}, not '${text}'`);
  }
  if (integer && !Number.isInteger(value)) {
    throw new UsageError(`--${name} must be a whole number, not '${text}'`);
  }
  return value;
}

/**
 * The options of join.js, checked.
 * @param {string[]} argv arguments after the script name
 * @returns {object|null} the options, or null when help was asked for
 * @throws {UsageError} for anything wrong, with a message for people
 */
function parse(argv) {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true }));
  } catch (error) {
    throw new UsageError(error.message.split('\n')[0]);
  }
  if (values.help) return null;
  for (const name of ['room', 'listen']) {
    if (!values[name]) throw new UsageError(`--${name} is required`);
  }
  if (!['wav', 'opus'].includes(values['output-format'])) {
    throw new UsageError(`--output-format must be wav or opus, not '${values['output-format']}'`);
  }
  if (!/^[^:\s]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/.test(values.address)) {
    throw new UsageError(`--address must be HOST:PORT, not '${values.address}'`);
  }
  return {
    address: values.address,
    room: values.room,
    create: values.create,
    token: values.token,
    apiKey: values['api-key'],
    ca: values.ca,
    cert: values.cert,
    key: values.key,
    name: values.name,
    speak: values.speak,
    listen: values.listen,
    input: values.input,
    realtime: values.realtime,
    output: values.output,
    outputRate: number(values, 'output-rate', { integer: true, min: 8000 }),
    outputFormat: values['output-format'],
    bitrate: number(values, 'bitrate', { integer: true, min: 6000 }),
    interim: values.interim,
    expect: number(values, 'expect', { integer: true, min: 1 }),
    quietSeconds: number(values, 'quiet-seconds'),
    waitSeconds: number(values, 'wait-seconds', { min: 0.1 }),
    connectTimeout: number(values, 'connect-timeout', { min: 0.1 }),
  };
}

module.exports = { parse, USAGE, UsageError };
