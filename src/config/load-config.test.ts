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

describe('--store clickhouse://', () => {
  it('reads a single node, a cluster with one endpoint per shard, and credentials', () => {
    assert.deepEqual(loadConfig({ store: 'clickhouse://127.0.0.1:8123/oms' }, {}).store, {
      kind: 'clickhouse',
      urls: ['http://127.0.0.1:8123'],
      database: 'oms',
      cluster: undefined,
      username: 'default',
      password: '',
    });
    assert.deepEqual(loadConfig({ store: 'clickhouse://oms:p%40ss@ch-1:8123,ch-2:8124/oms_logs?cluster=oms_cluster' }, {}).store, {
      kind: 'clickhouse',
      urls: ['http://ch-1:8123', 'http://ch-2:8124'],
      database: 'oms_logs',
      cluster: 'oms_cluster',
      username: 'oms',
      password: 'p@ss',
    });
    assert.equal(loadConfig({}, { OMS_STORE: 'clickhouse://[::1]:8123/oms' }).store.kind, 'clickhouse');
  });

  it('refuses malformed URLs with one line that never repeats a password', () => {
    for (const url of [
      'clickhouse://127.0.0.1/oms',
      'clickhouse://127.0.0.1:8123',
      'clickhouse://127.0.0.1:8123/',
      'clickhouse://127.0.0.1:8123/bad-name',
      "clickhouse://127.0.0.1:8123/oms'; DROP",
      'clickhouse://127.0.0.1:99999/oms',
      'clickhouse://a:8123,b:8123/oms',
      'clickhouse://a:8123/oms?cluster=',
      'clickhouse://a:8123/oms?cluster=x-y',
      'clickhouse://user:secret%zz@a:8123/oms',
      'clickhouse://user:topsecret@a/oms',
    ]) {
      assert.throws(
        () => loadConfig({ store: url }, {}),
        (err: unknown) => err instanceof ConfigError && err.message.startsWith('--store / OMS_STORE:') && !err.message.includes('secret') && !err.message.includes('\n'),
        url,
      );
    }
  });
});

describe('loadConfig: secret fields', () => {
  it('adds the names of --secret-fields or OMS_SECRET_FIELDS, trimmed, flag first', () => {
    assert.deepEqual(loadConfig({}, {}).secretFields, []);
    assert.deepEqual(loadConfig({}, { OMS_SECRET_FIELDS: ' ApiKey , Credentials.Value,x_token ' }).secretFields, ['ApiKey', 'Credentials.Value', 'x_token']);
    assert.deepEqual(loadConfig({ secretFields: 'Pin' }, { OMS_SECRET_FIELDS: 'ApiKey' }).secretFields, ['Pin']);
  });

  it('refuses a name that is not a plain field name, in one line', () => {
    for (const raw of ['Api Key', 'a"b', 'x'.repeat(129), 'Pass*', 'ok,bad/name']) {
      assert.throws(() => loadConfig({ secretFields: raw }, {}), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^--secret-fields \/ OMS_SECRET_FIELDS: .* is not a field name/);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      });
    }
  });
});
