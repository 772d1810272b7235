import { Command, Option } from 'commander';
import { loadConfig, SETTINGS, type Config, type SettingKey } from '../config/index.js';

/** Adds every setting of the table as a flag, with its variable and default in the help. */
export function addSettingOptions(command: Command, keys: readonly SettingKey[] = SETTINGS.map((s) => s.key)): Command {
  for (const setting of SETTINGS) {
    if (!keys.includes(setting.key) || setting.flag === null) continue;
    const defaultText = setting.default === '' ? '' : `, default ${setting.default}`;
    command.addOption(new Option(`${setting.flag} <value>`, `${setting.help} (${setting.env}${defaultText})`));
  }
  return command;
}

/** The Config of a command: its flags (by attribute name) over the environment over the defaults. */
export function configFromOptions(command: Command): Config {
  const given = command.opts<Record<string, string | undefined>>();
  const flags: Partial<Record<SettingKey, string>> = {};
  for (const setting of SETTINGS) {
    if (setting.flag === null) continue;
    const attribute = new Option(`${setting.flag} <value>`).attributeName();
    const value = given[attribute];
    if (value !== undefined) flags[setting.key] = value;
  }
  return loadConfig(flags);
}

/** Admin commands work on the stores only: the listening and API settings do not apply. */
export const STORE_SETTINGS: readonly SettingKey[] = ['dataDir', 'store', 'masterKeyFile', 'retentionDays', 'logLevel'];
