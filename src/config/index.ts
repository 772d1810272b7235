export { SETTINGS, type Setting, type SettingKey } from './settings.js';
export { loadConfig, ConfigError, type Config, type Durability, type GatewayConfig, type IngestConfig, type LogLevel } from './load-config.js';
