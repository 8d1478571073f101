'use strict';
// Stubs of Parley's four gRPC services, built at run time from the repository's protos
// (protos/parley/v1), so that this client and the server share one contract.

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

/** The folder that holds parley/v1/*.proto: $PARLEY_PROTOS, else the repository's protos/. */
const PROTOS_DIR = process.env.PARLEY_PROTOS || path.resolve(__dirname, '..', '..', 'protos');

const PROTO_FILES = ['audio', 'rooms', 'stt', 'translate', 'tts'].map(
  (name) => `parley/v1/${name}.proto`,
);

/** Field names as in the .proto files (snake_case), enums as their names, 64-bit integers as
 * strings, bytes as Buffers, every field present, and a virtual field naming the member of each
 * oneof that is set (for example `event` on a JoinResponse). */
const LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

const cache = new Map();

/**
 * The `parley.v1` package: service constructors and message types.
 * @param {string} [protosDir] folder containing parley/v1/*.proto
 */
function loadParley(protosDir = PROTOS_DIR) {
  if (!cache.has(protosDir)) {
    const definition = protoLoader.loadSync(PROTO_FILES, {
      ...LOADER_OPTIONS,
      includeDirs: [protosDir],
    });
    cache.set(protosDir, grpc.loadPackageDefinition(definition).parley.v1);
  }
  return cache.get(protosDir);
}

/**
 * Clients of the four services on one channel.
 * @param {string} address host:port of a Parley server
 * @param {object} [options]
 * @param {grpc.ChannelCredentials} [options.credentials] default: TLS when `ca` is given,
 *   else plaintext
 * @param {string} [options.ca] PEM file of the CA that signed the server's certificate (TLS)
 * @param {string} [options.cert] PEM client certificate, for servers that require mutual TLS
 * @param {string} [options.key] PEM private key of that certificate
 * @param {string} [options.apiKey] API key, sent as `authorization: Bearer <key>` on every call
 * @param {object} [options.channelOptions] gRPC channel options
 * @param {string} [options.protosDir] folder containing parley/v1/*.proto
 * @returns {{rooms, stt, translate, tts, channel, waitForReady, close}}
 */
function createClients(address, options = {}) {
  const v1 = loadParley(options.protosDir);
  const credentials =
    options.credentials ||
    (options.ca || options.cert
      ? grpc.credentials.createSsl(
          options.ca ? fs.readFileSync(options.ca) : null,
          options.key ? fs.readFileSync(options.key) : null,
          options.cert ? fs.readFileSync(options.cert) : null,
        )
      : grpc.credentials.createInsecure());
  const channelOptions = {
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    ...options.channelOptions,
  };
  if (options.apiKey) channelOptions.interceptors = [bearer(options.apiKey)];
  const rooms = new v1.RoomService(address, credentials, channelOptions);
  // The other three share the first client's channel.
  const shared = { ...channelOptions, channelOverride: rooms.getChannel() };
  const clients = {
    rooms,
    stt: new v1.SpeechToTextService(address, credentials, shared),
    translate: new v1.TranslationService(address, credentials, shared),
    tts: new v1.TextToSpeechService(address, credentials, shared),
    channel: rooms.getChannel(),
    /** Resolves once connected; rejects after `seconds` if the server cannot be reached. */
    waitForReady(seconds) {
      return new Promise((resolve, reject) => {
        rooms.waitForReady(Date.now() + seconds * 1000, (error) =>
          error ? reject(error) : resolve(),
        );
      });
    },
    close() {
      rooms.close();
    },
  };
  return clients;
}

/** An interceptor that adds the API key to every call's metadata (plaintext or TLS alike). */
function bearer(apiKey) {
  return (callOptions, nextCall) =>
    new grpc.InterceptingCall(nextCall(callOptions), {
      start(metadata, listener, next) {
        metadata.set('authorization', `Bearer ${apiKey}`);
        next(metadata, listener);
      },
    });
}

/** The name of a gRPC status code, for example 'NOT_FOUND'. */
function statusName(code) {
  return Object.keys(grpc.status).find((name) => grpc.status[name] === code) || `code ${code}`;
}

module.exports = { PROTOS_DIR, LOADER_OPTIONS, loadParley, createClients, statusName, grpc };
