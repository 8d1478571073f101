#!/usr/bin/env node
'use strict';
// Joins a Parley room, streams a recording as your speech, prints captions and saves what you hear.
// `node join.js --help` for the options.

const fs = require('node:fs');
const path = require('node:path');
const { parse, USAGE, UsageError } = require('./args');
const { createClients, statusName, grpc } = require('./parley');
const { Session } = require('./session');
const { readWav, WavError } = require('./wav');

class Failure extends Error {}

// Compressed files go as they are; the server decodes them.
const SENT_AS_IS = { '.ogg': 'OGG_OPUS', '.opus': 'OGG_OPUS', '.webm': 'WEBM_OPUS', '.flac': 'FLAC' };

function loadInput(file) {
  let buffer;
  try {
    buffer = fs.readFileSync(file);
  } catch (error) {
    const reason = error.code === 'ENOENT' ? 'no such file' : error.message;
    throw new Failure(`cannot read --input ${file}: ${reason}`);
  }
  const encoding = SENT_AS_IS[path.extname(file).toLowerCase()];
  if (encoding) return { encoding, data: buffer, compressed: true };
  try {
    return readWav(buffer);
  } catch (error) {
    if (!(error instanceof WavError)) throw error;
    throw new Failure(`cannot use --input ${file}: ${error.message}`);
  }
}

function prepareOutput(dir) {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new Failure(`cannot create --output ${dir}: ${error.message}`);
  }
}

/** A one-line explanation of a gRPC error that ended the Join call. */
function explain(error, options) {
  const details = error.details || error.message;
  switch (error.code) {
    case grpc.status.NOT_FOUND:
      return (
        `room '${options.room}' not found on ${options.address} (--create creates it): ` +
        details
      );
    case grpc.status.UNAUTHENTICATED:
      return `the server at ${options.address} refused the API key (--api-key or $PARLEY_API_KEY): ${details}`;
    case grpc.status.PERMISSION_DENIED:
      return `room '${options.room}' refused you (--token): ${details}`;
    case grpc.status.UNAVAILABLE:
      return `lost the server at ${options.address}: ${details}`;
    case grpc.status.DEADLINE_EXCEEDED:
      return `the server at ${options.address} did not answer in time: ${details}`;
    default:
      return `join failed: ${statusName(error.code)}: ${details}`;
  }
}

async function main(argv) {
  const options = parse(argv);
  if (options === null) {
    console.log(USAGE);
    return 0;
  }
  const input = options.input ? loadInput(options.input) : null;
  if (options.output) prepareOutput(options.output);
  const clients = createClients(options.address, {
    apiKey: options.apiKey,
    ca: options.ca,
    cert: options.cert,
    key: options.key,
  });
  try {
    try {
      await clients.waitForReady(options.connectTimeout);
    } catch (error) {
      throw new Failure(
        `cannot reach a Parley server at ${options.address} within ${options.connectTimeout} s`,
      );
    }
    const session = new Session(clients, options, { input });
    const stop = () => session.leave('interrupted');
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    let result;
    try {
      result = await session.run();
    } catch (error) {
      if (error.code === undefined) throw error;
      throw new Failure(explain(error, options));
    } finally {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
    }
    const files = result.saved.length;
    console.log(
      `left: ${result.reason}; heard ${result.heard} utterance(s), saved ${files} file(s)`,
    );
    if (options.expect !== undefined && result.heard < options.expect) {
      throw new Failure(`expected ${options.expect} utterance(s) but heard ${result.heard}`);
    }
    return 0;
  } finally {
    clients.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    if (error instanceof UsageError) {
      console.error(`join.js: ${error.message} (--help for usage)`);
    } else if (error instanceof Failure) {
      console.error(`join.js: ${error.message}`);
    } else {
      console.error(`join.js: unexpected error: ${error.stack || error}`);
    }
    process.exitCode = 1;
  },
);
