// The environment handed to commands the daemon runs (HEALTH_CHECK, REBOOT_COMMAND, wall): the
// process environment without the settings' secrets (DOWNLOAD_PASSWORD, LOCKSMITHD_ETCD_PASSWORD),
// whether they came in under their own name or as UPDATE_ENGINE_<KEY>, and without any variable whose
// value is one of the secret values in use.

import { KEY_SPECS, type Settings } from './schema.ts';

/** Every environment name a secret setting can be given by. */
export function secretEnvNames(): Set<string> {
  const names = new Set<string>();
  for (const spec of KEY_SPECS) {
    if (!spec.secret) continue;
    for (const key of [spec.key, ...(spec.aliases ?? [])]) {
      names.add(key);
      names.add(`UPDATE_ENGINE_${key}`);
    }
  }
  return names;
}

/** A copy of `env` without the secrets of `settings`. */
export function environmentWithoutSecrets(env: NodeJS.ProcessEnv, settings: Pick<Settings, 'downloadPassword' | 'etcdPassword'>): NodeJS.ProcessEnv {
  const names = secretEnvNames();
  const values = new Set([settings.downloadPassword, settings.etcdPassword].filter((v): v is string => v !== undefined && v !== ''));
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (names.has(name) || (value !== undefined && values.has(value))) continue;
    out[name] = value;
  }
  return out;
}
