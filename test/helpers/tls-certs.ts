// A throwaway CA and a server certificate for 127.0.0.1 / localhost (openssl, through the etcd
// helper's certificate maker), for tests that need a real HTTPS server the transport trusts through
// SERVER_CA_FILE.

import { readFileSync } from 'node:fs';
import { makeEtcdCertificates } from './etcd.ts';

export interface TestCertificates {
  key: string;
  cert: string;
  caFile: string;
}

export function makeTestCertificates(dir: string): TestCertificates {
  const files = makeEtcdCertificates(dir);
  return { key: readFileSync(files.serverKeyFile, 'utf8'), cert: readFileSync(files.serverCertFile, 'utf8'), caFile: files.caFile };
}
