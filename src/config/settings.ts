/**
 * Every setting of `oms serve` and `oms admin`, once: its flag, its environment variable, its type, its
 * default and its help. The CLI builds its options from this table; load-config.ts merges and validates.
 * Precedence: flag, then environment variable, then default.
 */
export type SettingType = 'string' | 'port' | 'positiveInt' | 'byteSize' | 'logLevel' | 'cidrList' | 'nameList' | 'secret' | 'upstreamUrl' | 'durability';

export interface Setting {
  key: SettingKey;
  /** null for a secret: a flag's value is visible to every user of the machine (`ps`), a variable's is not. */
  flag: string | null;
  env: string;
  type: SettingType;
  default: string;
  help: string;
}

export type SettingKey =
  | 'host'
  | 'port'
  | 'dataDir'
  | 'store'
  | 'region'
  | 'apiVersion'
  | 'retentionDays'
  | 'trustedProxies'
  | 'secretFields'
  | 'masterKeyFile'
  | 'logLevel'
  | 'upstream'
  | 'durability'
  | 'upstreamTimeoutMs'
  | 'maxInFlight'
  | 'workers'
  | 'ingestToken'
  | 'ingestTokenFile'
  | 'ingestMaxBodyBytes'
  | 'ingestMaxLineBytes'
  | 'ingestMaxBatches';

export const SETTINGS: readonly Setting[] = [
  { key: 'host', flag: '--host', env: 'OMS_HOST', type: 'string', default: '127.0.0.1', help: 'address to listen on' },
  { key: 'port', flag: '--port', env: 'OMS_PORT', type: 'port', default: '8080', help: 'TCP port to listen on (0: any free port)' },
  { key: 'dataDir', flag: '--data', env: 'OMS_DATA_DIR', type: 'string', default: './oms-data', help: 'directory of the embedded stores and the master key' },
  { key: 'store', flag: '--store', env: 'OMS_STORE', type: 'string', default: '', help: 'log store URL: sqlite:///path/to/logs.db (default: logs.db in the data directory) or clickhouse://HOST:PORT/DATABASE[?cluster=NAME]' },
  { key: 'region', flag: '--region', env: 'OMS_REGION', type: 'string', default: 'eu-west-2', help: 'region name clients sign requests for' },
  { key: 'apiVersion', flag: '--api-version', env: 'OMS_API_VERSION', type: 'string', default: '1.40', help: 'API version written in QueryApiVersion' },
  { key: 'retentionDays', flag: '--retention-days', env: 'OMS_RETENTION_DAYS', type: 'positiveInt', default: '32', help: 'days a record stays readable before it is purged' },
  { key: 'trustedProxies', flag: '--trusted-proxies', env: 'OMS_TRUSTED_PROXIES', type: 'cidrList', default: '', help: 'comma-separated addresses and CIDRs of proxies whose X-Forwarded-For is believed' },
  { key: 'secretFields', flag: '--secret-fields', env: 'OMS_SECRET_FIELDS', type: 'nameList', default: '', help: 'comma-separated JSON field names whose values are masked in QueryPayloadRaw, in addition to the built-in list' },
  { key: 'masterKeyFile', flag: '--master-key-file', env: 'OMS_MASTER_KEY_FILE', type: 'string', default: '', help: 'file holding the key that seals secrets and page tokens (default: master.key in the data directory; created on first start)' },
  { key: 'logLevel', flag: '--log-level', env: 'OMS_LOG_LEVEL', type: 'logLevel', default: 'info', help: 'fatal, error, warn, info, debug, trace or silent' },
  { key: 'upstream', flag: '--upstream', env: 'OMS_UPSTREAM', type: 'upstreamUrl', default: '', help: 'OUTSCALE API to forward calls to (http:// or https:// origin); unset: no gateway' },
  { key: 'durability', flag: '--durability', env: 'OMS_DURABILITY', type: 'durability', default: 'strict', help: 'strict: a call\'s record is on disk before its answer ends; relaxed: written within 100 ms' },
  { key: 'upstreamTimeoutMs', flag: '--upstream-timeout-ms', env: 'OMS_UPSTREAM_TIMEOUT_MS', type: 'positiveInt', default: '30000', help: 'how long the upstream may take to connect, to send its head, or between two body chunks' },
  { key: 'maxInFlight', flag: '--max-in-flight', env: 'OMS_MAX_IN_FLIGHT', type: 'positiveInt', default: '4096', help: 'gateway calls in progress at once; beyond, calls are refused with 429 and Retry-After' },
  { key: 'workers', flag: '--workers', env: 'OMS_WORKERS', type: 'positiveInt', default: '1', help: 'gateway processes sharing the port and one durable write path (needs --upstream)' },
  { key: 'ingestToken', flag: null, env: 'OMS_INGEST_TOKEN', type: 'secret', default: '', help: 'bearer token of POST /oms/v1/ingest (unset: ingest is disabled)' },
  { key: 'ingestTokenFile', flag: '--ingest-token-file', env: 'OMS_INGEST_TOKEN_FILE', type: 'string', default: '', help: 'file holding the bearer token of POST /oms/v1/ingest, instead of OMS_INGEST_TOKEN' },
  { key: 'ingestMaxBodyBytes', flag: '--ingest-max-body-bytes', env: 'OMS_INGEST_MAX_BODY_BYTES', type: 'byteSize', default: '16777216', help: 'largest ingest body, as sent and after gunzip (larger: 413)' },
  { key: 'ingestMaxLineBytes', flag: '--ingest-max-line-bytes', env: 'OMS_INGEST_MAX_LINE_BYTES', type: 'byteSize', default: '4194304', help: 'longest NDJSON line of an ingest body (longer: that line is rejected)' },
  { key: 'ingestMaxBatches', flag: '--ingest-max-batches', env: 'OMS_INGEST_MAX_BATCHES', type: 'positiveInt', default: '8', help: 'ingest requests handled at once (more: 429 with Retry-After)' },
];
