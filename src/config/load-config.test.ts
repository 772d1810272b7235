import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from './load-config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'oms-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'an-ingest-token-0123456789abcdef';

describe('loadConfig: ingest settings', () => {
  it('leaves ingest disabled when no token is given', () => {
    const config = loadConfig({}, {});
    assert.equal(config.ingest.token, undefined);
    assert.deepEqual({ ...config.ingest, token: null }, { token: null, maxBodyBytes: 16_777_216, maxLineBytes: 4_194_304, maxBatches: 8 });
  });

  it('takes the token from OMS_INGEST_TOKEN', () => {
    assert.equal(loadConfig({}, { OMS_INGEST_TOKEN: TOKEN }).ingest.token, TOKEN);
  });

  it('takes the token from a file given by flag or variable, without its final newline', () => {
    const file = path.join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`);
    assert.equal(loadConfig({ ingestTokenFile: file }, {}).ingest.token, TOKEN);
    assert.equal(loadConfig({}, { OMS_INGEST_TOKEN_FILE: file }).ingest.token, TOKEN);
  });

  it('refuses a token both in the variable and in a file', () => {
    const file = path.join(dir, 'token2');
    writeFileSync(file, TOKEN);
    assert.throws(() => loadConfig({ ingestTokenFile: file }, { OMS_INGEST_TOKEN: TOKEN }), ConfigError);
  });

  it('refuses an unreadable token file in one line naming the flag and the variable', () => {
    assert.throws(() => loadConfig({ ingestTokenFile: path.join(dir, 'missing') }, {}), /--ingest-token-file \/ OMS_INGEST_TOKEN_FILE: cannot read .*ENOENT/);
  });

  it('refuses a short or malformed token without quoting it', () => {
    for (const bad of ['short-token', 'has spaces in the token value', 'ünïcode-token-0123456789', `x${'=a'.repeat(10)}`]) {
      assert.throws(
        () => loadConfig({}, { OMS_INGEST_TOKEN: bad }),
        (err: unknown) => err instanceof ConfigError && err.message.startsWith('OMS_INGEST_TOKEN: ') && !err.message.includes(bad),
      );
    }
  });

  it('checks the byte limits: a number from 1024 to 1 GiB, the line limit within the body limit', () => {
    assert.equal(loadConfig({ ingestMaxBodyBytes: '1048576', ingestMaxLineBytes: '65536' }, {}).ingest.maxLineBytes, 65_536);
    assert.throws(() => loadConfig({ ingestMaxBodyBytes: '1000' }, {}), /--ingest-max-body-bytes \/ OMS_INGEST_MAX_BODY_BYTES/);
    assert.throws(() => loadConfig({ ingestMaxBodyBytes: '2000000000' }, {}), /expected a number of bytes/);
    assert.throws(() => loadConfig({ ingestMaxBodyBytes: '16MiB' }, {}), /expected a number of bytes/);
    assert.throws(() => loadConfig({ ingestMaxBodyBytes: '65536', ingestMaxLineBytes: '131072' }, {}), /must not exceed/);
    assert.throws(() => loadConfig({ ingestMaxBatches: '0' }, {}), /--ingest-max-batches/);
  });
});
