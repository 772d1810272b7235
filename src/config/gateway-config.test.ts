import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './load-config.js';

describe('gateway settings', () => {
  it('no upstream: no gateway', () => {
    assert.equal(loadConfig({}, {}).gateway, undefined);
  });

  it('--upstream wins over OMS_UPSTREAM; defaults strict, 30 s, 4096 in flight', () => {
    const config = loadConfig({ upstream: 'https://api.eu-west-2.outscale.com/' }, { OMS_UPSTREAM: 'http://other:1' });
    assert.deepEqual(config.gateway, { upstream: 'https://api.eu-west-2.outscale.com', durability: 'strict', upstreamTimeoutMs: 30_000, maxInFlight: 4096, workers: 1 });
  });

  it('reads the environment', () => {
    const config = loadConfig({}, { OMS_UPSTREAM: 'http://127.0.0.1:9000', OMS_DURABILITY: 'relaxed', OMS_UPSTREAM_TIMEOUT_MS: '500', OMS_MAX_IN_FLIGHT: '8', OMS_WORKERS: '2' });
    assert.deepEqual(config.gateway, { upstream: 'http://127.0.0.1:9000', durability: 'relaxed', upstreamTimeoutMs: 500, maxInFlight: 8, workers: 2 });
  });

  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ upstream: 'ftp://x' }, /^--upstream \/ OMS_UPSTREAM: /],
    [{ upstream: 'not a url' }, /^--upstream \/ OMS_UPSTREAM: /],
    [{ upstream: 'https://user:pw@api.example' }, /without path, query or credentials/],
    [{ upstream: 'https://api.example/api/v1' }, /without path, query or credentials/],
    [{ upstream: 'https://api.example', durability: 'fast' }, /^--durability \/ OMS_DURABILITY: expected strict or relaxed/],
    [{ upstream: 'https://api.example', upstreamTimeoutMs: '0' }, /^--upstream-timeout-ms \/ OMS_UPSTREAM_TIMEOUT_MS: /],
    [{ upstream: 'https://api.example', maxInFlight: '-1' }, /^--max-in-flight \/ OMS_MAX_IN_FLIGHT: /],
    [{ workers: '2' }, /^--workers \/ OMS_WORKERS: more than one process needs --upstream/],
    [{ upstream: 'https://api.example', workers: '65' }, /^--workers \/ OMS_WORKERS: at most 64/],
  ];
  for (const [flags, message] of bad) {
    it(`refuses ${JSON.stringify(flags)} with one line naming the flag and the variable`, () => {
      assert.throws(() => loadConfig(flags, {}), (err: unknown) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('pw'));
    });
  }
});
