import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './load-config.js';

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
