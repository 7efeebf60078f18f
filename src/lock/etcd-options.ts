// Turns the etcd settings (LOCKSMITHD_ENDPOINT, _ETCD_CAFILE/_CERTFILE/_KEYFILE, _USERNAME/_PASSWORD,
// or locksmithctl's flags) into EtcdConnectionOptions, reading the certificate files once.

import { readFile } from 'node:fs/promises';
import { UpdateEngineError } from '../errors.ts';
import type { EtcdConnectionOptions } from './etcd-lock-store.ts';

/** The etcd part of Settings (same field names), or locksmithctl's flags. */
export interface EtcdSettings {
  etcdEndpoints: readonly string[];
  etcdCaFile?: string | undefined;
  etcdCertFile?: string | undefined;
  etcdKeyFile?: string | undefined;
  etcdUsername?: string | undefined;
  etcdPassword?: string | undefined;
}

async function readPem(path: string, what: string, key: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new UpdateEngineError('ERR_CONFIG_FILE', `Cannot read the etcd ${what} "${path}" (${key}): ${why}`, { cause: e });
  }
}

/** Reads the CA, certificate and key files named in the settings. A certificate needs its key and vice versa. */
export async function loadEtcdOptions(settings: EtcdSettings, extra: Partial<EtcdConnectionOptions> = {}): Promise<EtcdConnectionOptions> {
  if ((settings.etcdCertFile === undefined) !== (settings.etcdKeyFile === undefined)) {
    throw new UpdateEngineError(
      'ERR_CONFIG_VALUE',
      'An etcd client certificate needs both a certificate file and a key file (LOCKSMITHD_ETCD_CERTFILE and LOCKSMITHD_ETCD_KEYFILE)',
    );
  }
  const options: EtcdConnectionOptions = { ...extra, endpoints: [...settings.etcdEndpoints] };
  if (settings.etcdCaFile !== undefined) options.caPem = await readPem(settings.etcdCaFile, 'CA file', 'LOCKSMITHD_ETCD_CAFILE');
  if (settings.etcdCertFile !== undefined) options.certPem = await readPem(settings.etcdCertFile, 'certificate file', 'LOCKSMITHD_ETCD_CERTFILE');
  if (settings.etcdKeyFile !== undefined) options.keyPem = await readPem(settings.etcdKeyFile, 'key file', 'LOCKSMITHD_ETCD_KEYFILE');
  if (settings.etcdUsername !== undefined && settings.etcdUsername !== '') {
    options.username = settings.etcdUsername;
    options.password = settings.etcdPassword ?? '';
  }
  return options;
}
