import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { SETTINGS, type Setting, type SettingKey } from './settings.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
// A JSON key worth masking: a name as APIs spell them, not a pattern.
const FIELD_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const LOG_LEVELS: ReadonlySet<string> = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export interface Config {
  readonly server: { readonly host: string; readonly port: number };
  readonly dataDir: string;
  /** Resolved store location. */
  readonly store: SqliteStoreConfig | ClickHouseStoreConfig;
  readonly credentialsPath: string;
  readonly masterKeyFile: string;
  readonly api: { readonly region: string; readonly version: string };
  readonly retentionDays: number;
  readonly trustedProxies: readonly string[];
  /** Payload field names masked in records besides DEFAULT_SECRET_FIELDS (capture/build-record.ts). */
  readonly secretFields: readonly string[];
  readonly logLevel: LogLevel;
  /** The gateway: undefined when no upstream is set (OMS then serves only its own routes). */
  readonly gateway: GatewayConfig | undefined;
  readonly ingest: IngestConfig;
}

export type Durability = 'strict' | 'relaxed';

export interface GatewayConfig {
  /** Origin of the upstream API, e.g. `https://api.eu-west-2.outscale.com`. */
  readonly upstream: string;
  readonly durability: Durability;
  readonly upstreamTimeoutMs: number;
  readonly maxInFlight: number;
  /** Gateway processes; with more than one, a primary process owns the write path (store, spool). */
  readonly workers: number;
}

export interface IngestConfig {
  /** The bearer token of POST /oms/v1/ingest; undefined when ingest is disabled. Never logged. */
  readonly token: string | undefined;
  readonly maxBodyBytes: number;
  readonly maxLineBytes: number;
  readonly maxBatches: number;
}

export interface SqliteStoreConfig {
  readonly kind: 'sqlite';
  readonly path: string;
}

/** `clickhouse://[USER[:PASSWORD]@]HOST:PORT[,HOST:PORT...]/DATABASE[?cluster=NAME]`: one HTTP endpoint per shard. */
export interface ClickHouseStoreConfig {
  readonly kind: 'clickhouse';
  /** http://host:port of each node, in shard order. */
  readonly urls: readonly string[];
  readonly database: string;
  readonly cluster: string | undefined;
  readonly username: string;
  readonly password: string;
}

const CLICKHOUSE_URL = /^clickhouse:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#@]+)\/([A-Za-z_][A-Za-z0-9_]{0,62})(?:\?cluster=([A-Za-z_][A-Za-z0-9_]{0,62}))?$/;
const HOST_PORT = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;

function parseClickHouseUrl(url: string): ClickHouseStoreConfig | undefined {
  const match = CLICKHOUSE_URL.exec(url);
  if (match === null) return undefined;
  const [, user, password, hosts, database, cluster] = match;
  const list = (hosts ?? '').split(',');
  if (!list.every((h) => HOST_PORT.test(h) && Number(h.slice(h.lastIndexOf(':') + 1)) <= 65535)) return undefined;
  if (cluster === undefined && list.length !== 1) return undefined;
  let username = 'default';
  let secret = '';
  try {
    if (user !== undefined && user !== '') username = decodeURIComponent(user);
    if (password !== undefined) secret = decodeURIComponent(password);
  } catch {
    return undefined;
  }
  return { kind: 'clickhouse', urls: list.map((h) => `http://${h}`), database: database as string, cluster, username, password: secret };
}

/** A configuration mistake: printed as one line naming the flag and the variable, exit code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The entries of a comma-separated setting, trimmed, empty ones dropped. */
function commaList(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function describe(setting: Setting): string {
  return setting.flag === null ? setting.env : `${setting.flag} / ${setting.env}`;
}

// RFC 6750 section 2.1: the b64token characters a Bearer credential is made of.
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const MIN_TOKEN_CHARS = 16;
const MAX_TOKEN_CHARS = 512;
const MAX_BYTE_SIZE = 1024 * 1024 * 1024;

function checkIngestToken(where: string, token: string): string {
  // The message never quotes the value: it is a secret.
  if (token.length < MIN_TOKEN_CHARS || token.length > MAX_TOKEN_CHARS || !BEARER_TOKEN.test(token)) {
    throw new ConfigError(
      `${where}: the ingest token must be ${MIN_TOKEN_CHARS} to ${MAX_TOKEN_CHARS} characters among A-Z a-z 0-9 - . _ ~ + / (optionally ending in =), e.g. the output of openssl rand -hex 32`,
    );
  }
  return token;
}

/** The ingest token from OMS_INGEST_TOKEN or from a file (flag or variable); both at once is a mistake. */
function resolveIngestToken(token: string, tokenFile: string): string | undefined {
  if (token !== '' && tokenFile !== '') {
    throw new ConfigError('OMS_INGEST_TOKEN and --ingest-token-file / OMS_INGEST_TOKEN_FILE are both set: keep one');
  }
  if (tokenFile !== '') {
    let text: string;
    try {
      text = readFileSync(tokenFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`--ingest-token-file / OMS_INGEST_TOKEN_FILE: cannot read ${tokenFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    // Files written by `echo` or an editor end with a newline; it is not part of the token.
    return checkIngestToken('--ingest-token-file / OMS_INGEST_TOKEN_FILE', text.trim());
  }
  return token === '' ? undefined : checkIngestToken('OMS_INGEST_TOKEN', token);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function parseValue(setting: Setting, raw: string): string | number | string[] {
  switch (setting.type) {
    case 'upstreamUrl': {
      if (raw === '') return raw;
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new ConfigError(`${describe(setting)}: expected an http:// or https:// URL, got ${JSON.stringify(raw)}`);
      }
      // Never echo credentials put in the URL: the message goes to a terminal or a log.
      if (url.username !== '' || url.password !== '') throw new ConfigError(`${describe(setting)}: expected an http:// or https:// origin without path, query or credentials; this one has credentials`);
      if ((url.protocol !== 'http:' && url.protocol !== 'https:') || (url.pathname !== '/' && url.pathname !== '') || url.search !== '') {
        throw new ConfigError(`${describe(setting)}: expected an http:// or https:// origin without path, query or credentials, got ${JSON.stringify(raw)}`);
      }
      return url.origin;
    }
    case 'durability': {
      if (raw !== 'strict' && raw !== 'relaxed') throw new ConfigError(`${describe(setting)}: expected strict or relaxed, got ${JSON.stringify(raw)}`);
      return raw;
    }
    case 'string':
      return raw;
    case 'port': {
      if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) throw new ConfigError(`${describe(setting)}: expected a port number 0-65535, got ${JSON.stringify(raw)}`);
      return Number(raw);
    }
    case 'positiveInt': {
      if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1) throw new ConfigError(`${describe(setting)}: expected a whole number of at least 1, got ${JSON.stringify(raw)}`);
      return Number(raw);
    }
    case 'byteSize': {
      if (!/^\d{1,10}$/.test(raw) || Number(raw) < 1024 || Number(raw) > MAX_BYTE_SIZE) {
        throw new ConfigError(`${describe(setting)}: expected a number of bytes from 1024 to ${MAX_BYTE_SIZE}, got ${JSON.stringify(raw)}`);
      }
      return Number(raw);
    }
    case 'secret':
      return raw;
    case 'logLevel': {
      if (!LOG_LEVELS.has(raw)) throw new ConfigError(`${describe(setting)}: expected one of ${[...LOG_LEVELS].join(', ')}, got ${JSON.stringify(raw)}`);
      return raw;
    }
    case 'nameList': {
      const entries = commaList(raw);
      for (const entry of entries) {
        if (!FIELD_NAME.test(entry)) throw new ConfigError(`${describe(setting)}: ${JSON.stringify(entry.slice(0, 80))} is not a field name (letters, digits, _ . -, at most 128)`);
      }
      return entries;
    }
    case 'cidrList': {
      const entries = commaList(raw);
      for (const entry of entries) {
        const [address, bits, extra] = entry.split('/');
        const family = isIP(address ?? '');
        const maxBits = family === 6 ? 128 : 32;
        const validBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits);
        if (family === 0 || !validBits || extra !== undefined) {
          throw new ConfigError(`${describe(setting)}: ${JSON.stringify(entry)} is not an IP address or CIDR`);
        }
      }
      return entries;
    }
  }
}

/**
 * Merges flags (as given on the command line, undefined when absent) with the environment and the
 * defaults, validates every value, and returns a frozen Config.
 */
export function loadConfig(flags: Partial<Record<SettingKey, string>>, env: NodeJS.ProcessEnv = process.env): Config {
  const values = new Map<SettingKey, string | number | string[]>();
  for (const setting of SETTINGS) {
    const raw = flags[setting.key] ?? env[setting.env] ?? setting.default;
    values.set(setting.key, parseValue(setting, raw));
  }
  const get = <T>(key: SettingKey) => values.get(key) as T;
  const dataDir = path.resolve(get<string>('dataDir'));
  const storeUrl = get<string>('store');
  let store: SqliteStoreConfig | ClickHouseStoreConfig = { kind: 'sqlite', path: path.join(dataDir, 'logs.db') };
  if (storeUrl.startsWith('clickhouse://')) {
    const parsed = parseClickHouseUrl(storeUrl);
    if (parsed === undefined) {
      // Never echo the URL: it may hold a password.
      throw new ConfigError('--store / OMS_STORE: expected clickhouse://[USER[:PASSWORD]@]HOST:PORT[,HOST:PORT...]/DATABASE[?cluster=NAME] (several hosts need a cluster)');
    }
    store = parsed;
  } else if (storeUrl !== '') {
    const match = /^sqlite:\/\/(.+)$/.exec(storeUrl);
    if (!match?.[1]) {
      throw new ConfigError(`--store / OMS_STORE: expected sqlite:///path/to/logs.db or clickhouse://HOST:PORT/DATABASE, got ${JSON.stringify(storeUrl)}`);
    }
    store = { kind: 'sqlite', path: path.resolve(match[1]) };
  }
  const masterKeyFile = get<string>('masterKeyFile');
  const region = get<string>('region');
  if (!/^[a-z0-9-]{1,64}$/.test(region)) throw new ConfigError(`--region / OMS_REGION: ${JSON.stringify(region)} is not a region name`);
  const ingestMaxBodyBytes = get<number>('ingestMaxBodyBytes');
  const ingestMaxLineBytes = get<number>('ingestMaxLineBytes');
  if (ingestMaxLineBytes > ingestMaxBodyBytes) {
    throw new ConfigError('--ingest-max-line-bytes / OMS_INGEST_MAX_LINE_BYTES: must not exceed --ingest-max-body-bytes / OMS_INGEST_MAX_BODY_BYTES');
  }
  const ingestTokenFile = get<string>('ingestTokenFile');
  const ingestToken = resolveIngestToken(get<string>('ingestToken'), ingestTokenFile === '' ? '' : path.resolve(ingestTokenFile));
  const version = get<string>('apiVersion');
  if (!/^[0-9A-Za-z.-]{1,32}$/.test(version)) throw new ConfigError(`--api-version / OMS_API_VERSION: ${JSON.stringify(version)} is not a version`);

  if (get<string>('upstream') === '' && get<number>('workers') > 1) {
    throw new ConfigError('--workers / OMS_WORKERS: more than one process needs --upstream / OMS_UPSTREAM (the gateway)');
  }
  if (get<number>('workers') > 64) throw new ConfigError('--workers / OMS_WORKERS: at most 64');

  return deepFreeze<Config>({
    server: { host: get<string>('host'), port: get<number>('port') },
    dataDir,
    store,
    credentialsPath: path.join(dataDir, 'credentials.db'),
    masterKeyFile: masterKeyFile === '' ? path.join(dataDir, 'master.key') : path.resolve(masterKeyFile),
    api: { region, version },
    retentionDays: get<number>('retentionDays'),
    trustedProxies: get<string[]>('trustedProxies'),
    secretFields: get<string[]>('secretFields'),
    logLevel: get<LogLevel>('logLevel'),
    gateway:
      get<string>('upstream') === ''
        ? undefined
        : {
            upstream: get<string>('upstream'),
            durability: get<Durability>('durability'),
            upstreamTimeoutMs: get<number>('upstreamTimeoutMs'),
            maxInFlight: get<number>('maxInFlight'),
            workers: get<number>('workers'),
          },
    ingest: { token: ingestToken, maxBodyBytes: ingestMaxBodyBytes, maxLineBytes: ingestMaxLineBytes, maxBatches: get<number>('ingestMaxBatches') },
  });
}
