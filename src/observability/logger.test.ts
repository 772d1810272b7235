import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createAccessLog, createLogger } from './logger.js';

function memory(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { stream, lines: () => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const LINE = { requestId: 'r-1', method: 'POST', path: '/api/v1/ReadVolumes', status: 200, durationUs: 1234, call: 'ReadVolumes', kind: 'oapi', recorded: true };

describe('logger', () => {
  it('redacts secrets and Authorization in ordinary lines', () => {
    const out = memory();
    const logger = createLogger('info', out.stream);
    logger.info({ headers: { authorization: 'OSC4-HMAC-SHA256 Credential=...' }, secretKey: 'S'.repeat(40), key: { SecretKey: 'T'.repeat(40) } }, 'x');
    const [line] = out.lines();
    assert.deepEqual([line?.headers, line?.secretKey, line?.key], [{ authorization: '*****' }, '*****', { SecretKey: '*****' }]);
  });

  it('writes the per-call access line only at debug, with its fields as given', () => {
    const quiet = memory();
    createAccessLog(createLogger('info', quiet.stream))(LINE, 'gateway call');
    assert.deepEqual(quiet.lines(), []);
    const verbose = memory();
    createAccessLog(createLogger('debug', verbose.stream))(LINE, 'gateway call');
    const [line] = verbose.lines();
    assert.equal(line?.msg, 'gateway call');
    assert.equal(line?.level, 20);
    for (const [name, value] of Object.entries(LINE)) assert.deepEqual(line?.[name], value, name);
  });
});
