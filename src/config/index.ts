export { SETTINGS, type Setting, type SettingKey } from './settings.js';
export {
  loadConfig,
  ConfigError,
  type Config,
  type Durability,
  type GatewayConfig,
  type IngestConfig,
  type LogLevel,
  type SqliteStoreConfig,
  type ClickHouseStoreConfig,
} from './load-config.js';
