/**
 * Where the client commands find credentials and the endpoint: ~/.osc/config.json as osc-cli, the SDKs and
 * osc-logs write it, and the OSC_* variables, with the precedence README states.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ClientError, resolveClientProfile } from '../../src/client/index.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function home(profiles?: unknown, folder = '.osc'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'oms-profile-'));
  dirs.push(dir);
  if (profiles !== undefined) {
    mkdirSync(path.join(dir, folder));
    writeFileSync(path.join(dir, folder, 'config.json'), typeof profiles === 'string' ? profiles : JSON.stringify(profiles));
  }
  return dir;
}

const KEYS = { access_key: 'AK-FILE', secret_key: 'SK-FILE' };

describe('client profile resolution', () => {
  it('reads the default profile and defaults the endpoint to the region\'s public API', () => {
    const profile = resolveClientProfile({ env: {}, homeDir: home({ default: { ...KEYS, region: 'us-west-1' } }) });
    assert.deepEqual(profile, { profileName: 'default', accessKeyId: 'AK-FILE', secretKey: 'SK-FILE', region: 'us-west-1', apiBaseUrl: 'https://api.us-west-1.outscale.com/api/v1' });
    assert.equal(resolveClientProfile({ env: {}, homeDir: home({ default: KEYS }) }).apiBaseUrl, 'https://api.eu-west-2.outscale.com/api/v1');
  });

  it('takes the endpoint in each form the OUTSCALE tools write it', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ endpoint: 'http://127.0.0.1:8080' }, 'http://127.0.0.1:8080/api/v1'],
      [{ endpoint: 'http://127.0.0.1:8080/api/v1/' }, 'http://127.0.0.1:8080/api/v1'],
      [{ endpoint: 'oms.example.com' }, 'https://oms.example.com/api/v1'],
      [{ endpoint: 'oms.example.com', https: false }, 'http://oms.example.com/api/v1'],
      [{ endpoints: { api: 'api.eu-west-2.outscale.com/api/v1' }, protocol: 'https' }, 'https://api.eu-west-2.outscale.com/api/v1'],
      [{ host: 'outscale.com', https: true, region_name: 'ap-northeast-1' }, 'https://api.ap-northeast-1.outscale.com/api/v1'],
      [{ endpoint: 'http://oms.internal/api/latest' }, 'http://oms.internal/api/latest'],
    ];
    for (const [fields, expected] of cases) {
      assert.equal(resolveClientProfile({ env: {}, homeDir: home({ default: { ...KEYS, ...fields } }) }).apiBaseUrl, expected, JSON.stringify(fields));
    }
  });

  it('lets OSC_* variables win over the default profile, field by field', () => {
    const dir = home({ default: { ...KEYS, region: 'us-west-1', endpoint: 'http://file.example' } });
    assert.deepEqual(resolveClientProfile({ env: { OSC_REGION: 'eu-west-2' }, homeDir: dir }), {
      profileName: 'default', accessKeyId: 'AK-FILE', secretKey: 'SK-FILE', region: 'eu-west-2', apiBaseUrl: 'http://file.example/api/v1',
    });
    const env = { OSC_ACCESS_KEY: 'AK-ENV', OSC_SECRET_KEY: 'SK-ENV', OSC_ENDPOINT_API: 'http://127.0.0.1:9000/api/v1' };
    assert.deepEqual(resolveClientProfile({ env, homeDir: dir }), { profileName: 'default', accessKeyId: 'AK-ENV', secretKey: 'SK-ENV', region: 'us-west-1', apiBaseUrl: 'http://127.0.0.1:9000/api/v1' });
    assert.deepEqual(resolveClientProfile({ env: { OSC_ACCESS_KEY: 'AK-ENV', OSC_SECRET_KEY: 'SK-ENV' }, homeDir: home() }), {
      profileName: undefined, accessKeyId: 'AK-ENV', secretKey: 'SK-ENV', region: 'eu-west-2', apiBaseUrl: 'https://api.eu-west-2.outscale.com/api/v1',
    });
  });

  it('uses a named profile as written, over the variables', () => {
    const dir = home({ default: KEYS, prod: { access_key: 'AK-PROD', secret_key: 'SK-PROD', region: 'cloudgouv-eu-west-1' } });
    const env = { OSC_ACCESS_KEY: 'AK-ENV', OSC_SECRET_KEY: 'SK-ENV', OSC_REGION: 'us-east-2' };
    const byFlag = resolveClientProfile({ profile: 'prod', env, homeDir: dir });
    assert.deepEqual([byFlag.accessKeyId, byFlag.region], ['AK-PROD', 'cloudgouv-eu-west-1']);
    const byVariable = resolveClientProfile({ env: { ...env, OSC_PROFILE: 'prod' }, homeDir: dir });
    assert.equal(byVariable.accessKeyId, 'AK-PROD');
  });

  it('falls back to osc-cli\'s older ~/.osc_sdk/config.json, and honours OSC_CONFIG_FILE', () => {
    assert.equal(resolveClientProfile({ env: {}, homeDir: home({ default: KEYS }, '.osc_sdk') }).accessKeyId, 'AK-FILE');
    const other = home({ default: { ...KEYS, access_key: 'AK-OTHER' } });
    assert.equal(resolveClientProfile({ env: { OSC_CONFIG_FILE: path.join(other, '.osc', 'config.json') }, homeDir: home() }).accessKeyId, 'AK-OTHER');
  });

  it('refuses what it cannot use, naming the file and the field, without the secret', () => {
    const cases: [Parameters<typeof resolveClientProfile>[0], RegExp][] = [
      [{ profile: 'prod', env: {}, homeDir: home({ default: KEYS }) }, /no profile "prod" in .*config\.json; add it or choose another with --profile/],
      [{ env: {}, homeDir: home('not json') }, /config\.json is not valid JSON/],
      [{ env: {}, homeDir: home('[]') }, /must hold a JSON object of profiles/],
      [{ env: {}, homeDir: home({ default: 'AK' }) }, /profile "default" must be a JSON object/],
      [{ env: {}, homeDir: home({ default: { access_key: 'AK', secret_key: 42 } }) }, /"secret_key" must be a string/],
      [{ env: {}, homeDir: home({ default: { ...KEYS, endpoint: 'ftp://x' } }) }, /the endpoint must be http or https/],
      [{ env: {}, homeDir: home({ default: { ...KEYS, endpoint: 'http://u:p@x' } }) }, /without credentials, query or fragment/],
      [{ env: { OSC_SECRET_KEY: 'SK-ENV' }, homeDir: home({ default: KEYS }) }, /OSC_SECRET_KEY is set but OSC_ACCESS_KEY is not/],
      [{ env: {}, homeDir: home({ default: { ...KEYS, region: 'EU WEST' } }) }, /is not a region name/],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => resolveClientProfile(options), (err: unknown) => {
        assert.ok(err instanceof ClientError);
        assert.equal(err.exitCode, 2);
        assert.match(err.message, message);
        assert.equal(err.message.includes('SK-'), false);
        return true;
      });
    }
  });
});
