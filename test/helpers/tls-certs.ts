// A throwaway CA and a server certificate for 127.0.0.1 / localhost, made with openssl, for tests
// that need a real HTTPS server the transport trusts through SERVER_CA_FILE.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool } from './tools.ts';

export interface TestCertificates {
  key: string;
  cert: string;
  caFile: string;
}

export function makeTestCertificates(dir: string): TestCertificates {
  requireTool('openssl');
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=update-engine test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=keyCertSign',
    ],
    { stdio: 'ignore' },
  );
  execFileSync('openssl', ['req', ...ec, '-keyout', f('srv.key'), '-out', f('srv.csr'), '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  execFileSync(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      f('srv.csr'),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f('srv.pem'),
      '-days',
      '2',
      '-extfile',
      f('ext.cnf'),
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(f('srv.key'), 'utf8'), cert: readFileSync(f('srv.pem'), 'utf8'), caFile: f('ca.pem') };
}
