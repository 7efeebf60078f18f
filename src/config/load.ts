// Loads Settings from their layers (release file, /usr/share update.conf, /etc update.conf,
// each --config FILE, the environment), remembers where each value came from, validates once.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UpdateEngineError, type ErrorCode } from '../errors.ts';
import { parseKeyValueText, type KeyValueProblem } from './key-value.ts';
import { KEY_BY_FIELD, KEY_SPECS, settingsSchema, type KeySpec, type Settings } from './schema.ts';
import { isVersion } from './values.ts';

/** Where the system layers live; every path injectable (tests, --sysroot). */
export interface ConfigPaths {
  releaseFile: string;
  usrShareConf: string;
  etcConf: string;
  /** Read only when etcConf does not exist (the CoreOS name). */
  etcCoreosConf: string;
  osRelease: string;
}

export function systemConfigPaths(sysroot = '/'): ConfigPaths {
  return {
    releaseFile: join(sysroot, 'usr/share/flatcar/release'),
    usrShareConf: join(sysroot, 'usr/share/flatcar/update.conf'),
    etcConf: join(sysroot, 'etc/flatcar/update.conf'),
    etcCoreosConf: join(sysroot, 'etc/coreos/update.conf'),
    osRelease: join(sysroot, 'etc/os-release'),
  };
}

/** Where one value came from. */
export type ValueSource =
  | { kind: 'default' }
  | { kind: 'file'; file: string; line: number; name: string }
  | { kind: 'env'; name: string }
  | { kind: 'derived'; from: string };

export interface RawValue {
  value: string;
  source: ValueSource;
}

export interface LoadOptions {
  paths?: ConfigPaths;
  /** `--config FILE` arguments, in order (later wins). Each must exist. */
  configFiles?: readonly string[];
  /** The environment; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** A value a vendor file holds that is not used, and why (`config` shows it). */
export interface IgnoredValue {
  key: string;
  value: string;
  source: ValueSource;
  why: string;
}

export interface LoadedSettings {
  settings: Settings;
  /** KEY -> raw value and source, for every key that was set or derived. */
  raw: Map<string, RawValue>;
  /** Unknown keys, duplicates, values that could not be derived, lines without "=". */
  warnings: string[];
  /** Vendor values not used (SERVER and APP_ID come only from the operator's layers). */
  ignored: IgnoredValue[];
}

/**
 * Keys only the operator's layers (/etc, --config, the environment) may set. On a stock Flatcar host the
 * vendor files name Flatcar's public server and Flatcar's app id, which serve Flatcar's payload format,
 * not this engine's: asking there can only fail.
 */
const OPERATOR_ONLY_KEYS: Readonly<Record<string, string>> = {
  SERVER: "a vendor file names the vendor's update server, which does not serve this engine's payloads; set SERVER in /etc/flatcar/update.conf",
  APP_ID: "a vendor file names the vendor's app id, which is not this engine's; set APP_ID in /etc/flatcar/update.conf",
};

/** Release-file names of keys (FLATCAR_RELEASE_VERSION -> VERSION). */
const RELEASE_KEYS: Record<string, string> = {
  FLATCAR_RELEASE_VERSION: 'VERSION',
  FLATCAR_RELEASE_BOARD: 'BOARD',
  FLATCAR_RELEASE_APPID: 'APP_ID',
};

const ALIAS_TO_KEY = new Map<string, string>();
for (const spec of KEY_SPECS) for (const alias of spec.aliases ?? []) ALIAS_TO_KEY.set(alias, spec.key);
const SPEC_BY_KEY = new Map<string, KeySpec>(KEY_SPECS.map((s) => [s.key, s]));

export function describeSource(source: ValueSource): string {
  switch (source.kind) {
    case 'default':
      return 'default';
    case 'file':
      return `${source.file}:${source.line}`;
    case 'env':
      return `environment ${source.name}`;
    case 'derived':
      return `derived from ${source.from}`;
  }
}

function configError(code: ErrorCode, lines: string[]): UpdateEngineError {
  return new UpdateEngineError(code, lines.join('\n'), { details: { problems: lines } });
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw configError('ERR_CONFIG_FILE', [`Cannot read settings file "${path}": ${(e as Error).message}`]);
  }
}

async function readRequired(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw configError('ERR_CONFIG_FILE', [`Cannot read settings file "${path}": ${why}`]);
  }
}

interface Layer {
  file: string;
  text: string;
  release: boolean;
  /** The release file and /usr/share/flatcar/update.conf: the OS vendor's, not the operator's. */
  vendor: boolean;
}

/** Names of secret keys: a broken line that mentions one is reported without its text (it may hold the secret). */
const SECRET_NAMES = KEY_SPECS.filter((s) => s.secret).flatMap((s) => [s.key, ...(s.aliases ?? [])]);

function describeProblem(p: KeyValueProblem): string {
  const upper = p.text.toUpperCase();
  if (!SECRET_NAMES.some((name) => upper.includes(name))) return `${p.reason}: ${JSON.stringify(p.text.trim())}`;
  return `${p.reason.startsWith('invalid key') ? 'invalid key' : p.reason} (the line names a secret setting, so it is not shown)`;
}

function applyFileLayer(layer: Layer, raw: Map<string, RawValue>, warnings: string[], errors: string[], ignored: IgnoredValue[]): void {
  const parsed = parseKeyValueText(layer.text, layer.file);
  for (const p of parsed.problems) {
    // update_engine skips a line without "=" (simple_key_value_store.cc): a warning, not an error.
    if (p.reason === 'expected KEY=VALUE')
      warnings.push(`${layer.file}:${p.line}: skipped, no "=" in ${describeProblem(p).replace(/^expected KEY=VALUE: /, '')}`);
    else errors.push(`${layer.file}:${p.line}: ${describeProblem(p)}`);
  }
  const seen = new Map<string, number>();
  for (const entry of parsed.entries) {
    let key = entry.key;
    // update_engine reads FLATCAR_RELEASE_* from update.conf too (GetConfValue searches every file).
    if (RELEASE_KEYS[key]) key = RELEASE_KEYS[key] as string;
    key = ALIAS_TO_KEY.get(key) ?? key;
    const operatorOnly = OPERATOR_ONLY_KEYS[key];
    if (layer.vendor && operatorOnly !== undefined) {
      ignored.push({ key, value: entry.value, source: { kind: 'file', file: layer.file, line: entry.line, name: entry.key }, why: operatorOnly });
      continue;
    }
    if (!SPEC_BY_KEY.has(key)) {
      if (!layer.release) warnings.push(`${layer.file}:${entry.line}: unknown key ${entry.key} (ignored)`);
      continue;
    }
    const previous = seen.get(key);
    if (previous !== undefined) warnings.push(`${layer.file}:${entry.line}: ${key} was already set on line ${previous}; the later value wins`);
    seen.set(key, entry.line);
    raw.set(key, { value: entry.value, source: { kind: 'file', file: layer.file, line: entry.line, name: entry.key } });
  }
}

function applyEnvironment(env: NodeJS.ProcessEnv, raw: Map<string, RawValue>, warnings: string[]): void {
  const names = Object.keys(env).sort();
  // LOCKSMITHD_* under their own names first, so that UPDATE_ENGINE_LOCKSMITHD_* wins.
  for (const name of names) {
    if (!name.startsWith('LOCKSMITHD_')) continue;
    const key = ALIAS_TO_KEY.get(name) ?? name;
    if (SPEC_BY_KEY.has(key)) raw.set(key, { value: env[name] as string, source: { kind: 'env', name } });
  }
  for (const name of names) {
    if (!name.startsWith('UPDATE_ENGINE_')) continue;
    const bare = name.slice('UPDATE_ENGINE_'.length);
    const key = ALIAS_TO_KEY.get(bare) ?? bare;
    if (!SPEC_BY_KEY.has(key)) {
      warnings.push(`environment ${name}: unknown key ${bare} (ignored)`);
      continue;
    }
    raw.set(key, { value: env[name] as string, source: { kind: 'env', name } });
  }
}

async function deriveVersion(paths: ConfigPaths, raw: Map<string, RawValue>, warnings: string[]): Promise<void> {
  if (raw.has('VERSION')) return;
  const text = await readOptional(paths.osRelease);
  const entry = text === undefined ? undefined : parseKeyValueText(text, paths.osRelease).entries.find((e) => e.key === 'VERSION_ID');
  if (!entry) {
    warnings.push(`VERSION cannot be derived: no FLATCAR_RELEASE_VERSION in ${paths.releaseFile} and no VERSION_ID in ${paths.osRelease}; set VERSION`);
    return;
  }
  if (!isVersion(entry.value)) {
    warnings.push(`VERSION cannot be derived: VERSION_ID="${entry.value}" in ${paths.osRelease} is not semver-like; set VERSION`);
    return;
  }
  raw.set('VERSION', { value: entry.value, source: { kind: 'derived', from: `VERSION_ID in ${paths.osRelease}` } });
}

/** Reads every layer, validates once, and returns the Settings with their sources. Throws ERR_CONFIG_*. */
export async function loadSettings(options: LoadOptions = {}): Promise<LoadedSettings> {
  const paths = options.paths ?? systemConfigPaths();
  const env = options.env ?? process.env;
  const raw = new Map<string, RawValue>();
  const warnings: string[] = [];
  const errors: string[] = [];
  const ignored: IgnoredValue[] = [];

  const layers: Layer[] = [];
  const release = await readOptional(paths.releaseFile);
  if (release !== undefined) layers.push({ file: paths.releaseFile, text: release, release: true, vendor: true });
  const usrShare = await readOptional(paths.usrShareConf);
  if (usrShare !== undefined) layers.push({ file: paths.usrShareConf, text: usrShare, release: false, vendor: true });
  const etc = await readOptional(paths.etcConf);
  if (etc !== undefined) layers.push({ file: paths.etcConf, text: etc, release: false, vendor: false });
  else {
    const coreos = await readOptional(paths.etcCoreosConf);
    if (coreos !== undefined) layers.push({ file: paths.etcCoreosConf, text: coreos, release: false, vendor: false });
  }
  for (const file of options.configFiles ?? []) layers.push({ file, text: await readRequired(file), release: false, vendor: false });

  for (const layer of layers) applyFileLayer(layer, raw, warnings, errors, ignored);
  if (errors.length > 0) throw configError('ERR_CONFIG_SYNTAX', errors);
  applyEnvironment(env, raw, warnings);
  await deriveVersion(paths, raw, warnings);

  return { settings: validate(raw, warnings), raw, warnings, ignored };
}

/** Runs the schema over the raw values; an invalid derived value becomes a warning, anything else an error. */
function validate(raw: Map<string, RawValue>, warnings: string[]): Settings {
  for (;;) {
    const input: Record<string, string> = {};
    for (const [key, { value }] of raw) {
      const spec = SPEC_BY_KEY.get(key) as KeySpec;
      // `KEY=` on a key without a default means "not set" (HEALTH_CHECK=, BOARD=, DISK=).
      if (value.trim() === '' && spec.defaultText === undefined) continue;
      input[spec.field] = value;
    }
    const result = settingsSchema.safeParse(input);
    if (result.success) return result.data;
    const lines: string[] = [];
    let dropped = false;
    for (const issue of result.error.issues) {
      const field = String(issue.path[0] ?? '');
      const spec = KEY_BY_FIELD.get(field);
      const key = spec?.key ?? field;
      const value = raw.get(key);
      if (value?.source.kind === 'derived') {
        warnings.push(`${key} cannot be derived: "${value.value}" (${describeSource(value.source)}): ${issue.message}`);
        raw.delete(key);
        dropped = true;
        continue;
      }
      const where = value ? `${describeSource(value.source)}: ` : '';
      const shown = value ? `${key}=${JSON.stringify(spec?.secret ? '********' : value.value)}` : key;
      lines.push(`${where}${shown}: ${issue.message}`);
    }
    if (lines.length > 0) throw configError('ERR_CONFIG_VALUE', lines);
    if (!dropped) throw configError('ERR_INTERNAL', ['Settings validation failed without a reason']);
  }
}
