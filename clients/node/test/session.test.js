'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { safeName, durationSeconds } = require('../session');

test('utterance ids become safe file names', () => {
  assert.equal(safeName('d6a63459.1.u0'), 'd6a63459.1.u0');
  assert.equal(safeName('../../etc/passwd'), '__.._etc_passwd');
  assert.equal(safeName('..'), '_');
  assert.equal(safeName('a/b\\c d'), 'a_b_c_d');
});

test('durations decoded with 64-bit seconds as strings', () => {
  assert.equal(durationSeconds({ seconds: '2', nanos: 500000000 }), 2.5);
  assert.equal(durationSeconds(null), 0);
});
