/**
 * Credentials and endpoint of the client commands, found the way the OUTSCALE tools find them.
 *
 * The profile file is `~/.osc/config.json` (osc-cli, oapi-cli, osc-logs and the SDKs share it), or the
 * file named by OSC_CONFIG_FILE (as osc-sdk-go), or osc-cli's older `~/.osc_sdk/config.json`. It maps
 * profile names to objects:
 *
 *   { "default": { "access_key": "…", "secret_key": "…", "region": "eu-west-2",
 *                  "endpoint": "http://127.0.0.1:8080" } }
 *
 * Fields read: `access_key`, `secret_key`, `region` (or osc-cli's older `region_name`), and the endpoint
 * as any of the tools writes it: `endpoint` (osc-cli), `endpoints.api` (the SDKs), or `host` with
 * `https` (osc-cli's legacy form, `api.REGION.HOST`). `protocol` or `https: false` pick http for an
 * endpoint written without a scheme.
 *
 * Which wins (a choice: osc-cli reads no variables, the SDKs let variables win field by field):
 * - a profile named with `--profile` or OSC_PROFILE is used as written and the OSC_* variables are
 *   ignored, because naming a profile on the command line is the most explicit thing a user can do;
 *   a named profile that is not in the file is an error;
 * - otherwise each of OSC_ACCESS_KEY, OSC_SECRET_KEY, OSC_REGION, OSC_ENDPOINT_API that is set wins
 *   over the same field of the `default` profile, which may then be absent. The two keys go together:
 *   one without the other is an error, never an access key paired with another profile's secret.
 *
 * The endpoint, however written, becomes the base URL calls are appended to: a value without a path
 * (`api.eu-west-2.outscale.com`, `http://127.0.0.1:8080`) gets `/api/v1`, a value with one
 * (`https://api.eu-west-2.outscale.com/api/v1`, the SDK form) is kept. Without an endpoint it is the
 * region's public OUTSCALE API, `https://api.REGION.outscale.com/api/v1`
 * (reference/outscale-api-readapilogs.yaml, `servers`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ClientError } from './client-error.js';

export const DEFAULT_PROFILE = 'default';
export const DEFAULT_REGION = 'eu-west-2';

export interface ClientProfile {
  /** The profile read from the file, or undefined when everything came from the environment. */
  profileName: string | undefined;
  accessKeyId: string;
  secretKey: string;
  region: string;
  /** Calls go to `${apiBaseUrl}/${CallName}`; no trailing slash. */
  apiBaseUrl: string;
}

export interface ResolveProfileOptions {
  /** `--profile`, when given. */
  profile?: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
  homeDir: string;
}

// Region names are DNS labels joined by dashes (eu-west-2, cloudgouv-eu-west-1): anything else would
// change the host of the default endpoint.
const REGION = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

export function defaultApiBaseUrl(region: string): string {
  return `https://api.${region}.outscale.com/api/v1`;
}

interface FileProfile {
  access_key?: unknown;
  secret_key?: unknown;
  region?: unknown;
  region_name?: unknown;
  endpoint?: unknown;
  endpoints?: unknown;
  host?: unknown;
  https?: unknown;
  protocol?: unknown;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function configFileCandidates(env: ResolveProfileOptions['env'], homeDir: string): string[] {
  const explicit = nonEmpty(env.OSC_CONFIG_FILE);
  if (explicit !== undefined) return [explicit];
  return [path.join(homeDir, '.osc', 'config.json'), path.join(homeDir, '.osc_sdk', 'config.json')];
}

/** The profiles of the first file that exists, or undefined when there is none. */
function readProfiles(files: string[]): { file: string; profiles: Record<string, unknown> } | undefined {
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw new ClientError('Profile', `cannot read ${file}: ${code ?? (err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ClientError('Profile', `${file} is not valid JSON (${(err as Error).message.split('\n')[0]})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ClientError('Profile', `${file} must hold a JSON object of profiles, such as {"default": {"access_key": …}}`);
    }
    return { file, profiles: parsed as Record<string, unknown> };
  }
  return undefined;
}

function stringField(profile: FileProfile, field: keyof FileProfile, where: string): string | undefined {
  const value = profile[field];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ClientError('Profile', `${where}: "${field}" must be a string`);
  return value;
}

function profileEndpoint(profile: FileProfile, region: string, where: string): string | undefined {
  const endpoint = stringField(profile, 'endpoint', where);
  if (endpoint !== undefined) return endpoint;
  const endpoints = profile.endpoints;
  if (endpoints !== undefined && endpoints !== null) {
    if (typeof endpoints !== 'object' || Array.isArray(endpoints)) throw new ClientError('Profile', `${where}: "endpoints" must be an object`);
    const api = (endpoints as Record<string, unknown>).api;
    if (api !== undefined && api !== '') {
      if (typeof api !== 'string') throw new ClientError('Profile', `${where}: "endpoints.api" must be a string`);
      return api;
    }
  }
  const host = stringField(profile, 'host', where);
  if (host !== undefined) return `api.${region}.${host}`;
  return undefined;
}

function profileProtocol(profile: FileProfile, where: string): 'http' | 'https' {
  const protocol = stringField(profile, 'protocol', where);
  if (protocol !== undefined) {
    const lower = protocol.toLowerCase();
    if (lower !== 'http' && lower !== 'https') throw new ClientError('Profile', `${where}: "protocol" must be http or https`);
    return lower;
  }
  if (profile.https === false) return 'http';
  return 'https';
}

/**
 * The base URL of an endpoint as written in a profile or OSC_ENDPOINT_API. Throws a Profile error when
 * it is not an http(s) URL.
 */
export function normaliseEndpoint(value: string, protocol: 'http' | 'https', where: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `${protocol}://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ClientError('Profile', `${where}: the endpoint ${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ClientError('Profile', `${where}: the endpoint must be http or https, not ${url.protocol.replace(':', '')}`);
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new ClientError('Profile', `${where}: the endpoint must be a plain URL, without credentials, query or fragment`);
  }
  const pathname = url.pathname.replace(/\/+$/, '');
  return `${url.origin}${pathname === '' ? '/api/v1' : pathname}`;
}

function checkRegion(region: string, where: string): string {
  if (!REGION.test(region) || region.length > 64) {
    throw new ClientError('Profile', `${where}: the region ${JSON.stringify(region.slice(0, 64))} is not a region name such as eu-west-2`);
  }
  return region;
}

export function resolveClientProfile(options: ResolveProfileOptions): ClientProfile {
  const { env } = options;
  const named = nonEmpty(options.profile) ?? nonEmpty(env.OSC_PROFILE);
  const profileName = named ?? DEFAULT_PROFILE;
  const files = configFileCandidates(env, options.homeDir);
  const found = readProfiles(files);
  const raw = found?.profiles[profileName];
  if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) {
    throw new ClientError('Profile', `${found?.file}: profile "${profileName}" must be a JSON object`);
  }
  const fileProfile = raw as FileProfile | undefined;
  const where = found === undefined ? 'profile' : `${found.file}, profile "${profileName}"`;

  if (named !== undefined) {
    if (fileProfile === undefined) {
      const inFile = found === undefined ? `no profile file (${files[0]})` : `no profile "${profileName}" in ${found.file}`;
      throw new ClientError('Profile', `${inFile}; add it or choose another with --profile`);
    }
    return fromFile(fileProfile, profileName, where);
  }

  const envAccessKey = nonEmpty(env.OSC_ACCESS_KEY);
  const envSecretKey = nonEmpty(env.OSC_SECRET_KEY);
  if ((envAccessKey === undefined) !== (envSecretKey === undefined)) {
    throw new ClientError('Profile', `${envAccessKey === undefined ? 'OSC_SECRET_KEY' : 'OSC_ACCESS_KEY'} is set but ${envAccessKey === undefined ? 'OSC_ACCESS_KEY' : 'OSC_SECRET_KEY'} is not`);
  }
  if (envAccessKey === undefined && fileProfile === undefined) {
    const why = found === undefined ? `no profile file (${files[0]})` : `no profile "${DEFAULT_PROFILE}" in ${found.file}`;
    throw new ClientError('Profile', `no credentials: ${why}, and OSC_ACCESS_KEY and OSC_SECRET_KEY are not set`);
  }
  const base = fileProfile ?? {};
  const region = checkRegion(
    nonEmpty(env.OSC_REGION) ?? stringField(base, 'region', where) ?? stringField(base, 'region_name', where) ?? DEFAULT_REGION,
    nonEmpty(env.OSC_REGION) !== undefined ? 'OSC_REGION' : where,
  );
  const envEndpoint = nonEmpty(env.OSC_ENDPOINT_API);
  const fileEndpoint = profileEndpoint(base, region, where);
  const apiBaseUrl =
    envEndpoint !== undefined
      ? normaliseEndpoint(envEndpoint, 'https', 'OSC_ENDPOINT_API')
      : fileEndpoint !== undefined
        ? normaliseEndpoint(fileEndpoint, profileProtocol(base, where), where)
        : defaultApiBaseUrl(region);
  const accessKeyId = envAccessKey ?? stringField(base, 'access_key', where);
  const secretKey = envSecretKey ?? stringField(base, 'secret_key', where);
  if (accessKeyId === undefined || secretKey === undefined) {
    throw new ClientError('Profile', `${where}: "${accessKeyId === undefined ? 'access_key' : 'secret_key'}" is missing`);
  }
  return { profileName: envAccessKey === undefined ? DEFAULT_PROFILE : fileProfile === undefined ? undefined : DEFAULT_PROFILE, accessKeyId, secretKey, region, apiBaseUrl };
}

function fromFile(profile: FileProfile, profileName: string, where: string): ClientProfile {
  const region = checkRegion(stringField(profile, 'region', where) ?? stringField(profile, 'region_name', where) ?? DEFAULT_REGION, where);
  const accessKeyId = stringField(profile, 'access_key', where);
  const secretKey = stringField(profile, 'secret_key', where);
  if (accessKeyId === undefined || secretKey === undefined) {
    throw new ClientError('Profile', `${where}: "${accessKeyId === undefined ? 'access_key' : 'secret_key'}" is missing`);
  }
  const endpoint = profileEndpoint(profile, region, where);
  const apiBaseUrl = endpoint === undefined ? defaultApiBaseUrl(region) : normaliseEndpoint(endpoint, profileProtocol(profile, where), where);
  return { profileName, accessKeyId, secretKey, region, apiBaseUrl };
}
