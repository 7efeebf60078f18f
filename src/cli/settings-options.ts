// The options every settings-reading command shares (--config FILE..., --sysroot DIR, --help),
// and loading the Settings from them.

import { loadSettings, systemConfigPaths, type LoadedSettings } from '../config/load.ts';

export const SETTINGS_OPTIONS = {
  config: { type: 'string', multiple: true },
  sysroot: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Loads the settings layers for `--config` and `--sysroot` (the system files under DIR instead of /). */
export function loadSettingsFromOptions(
  values: { config?: string[] | undefined; sysroot?: string | undefined },
  env: NodeJS.ProcessEnv,
): Promise<LoadedSettings> {
  return loadSettings({ paths: systemConfigPaths(values.sysroot ?? '/'), configFiles: values.config ?? [], env });
}
