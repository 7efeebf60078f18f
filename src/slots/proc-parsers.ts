// Parsers for the two /proc files slot detection reads (pure): the kernel command line and a
// mounts table (/proc/mounts format, with its octal escapes).

/** Kernel parameters that may name the /usr device, in the order they are tried. */
export const USR_CMDLINE_KEYS = ['verity.usr', 'mount.usr', 'usr', 'root'] as const;

/** KEY=VALUE parameters of a kernel command line (double quotes allowed; the last one wins). */
export function parseKernelCmdline(text: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const token of text.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []) {
    if (token === '--') break; // the rest is for init
    const unquoted = token.replace(/"/g, '');
    const eq = unquoted.indexOf('=');
    if (eq > 0) params.set(unquoted.slice(0, eq), unquoted.slice(eq + 1));
  }
  return params;
}

function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The source device of the last mount at /usr, when it is a path (e.g. /dev/mapper/usr). */
export function usrMountSource(mounts: string): string | undefined {
  let source: string | undefined;
  for (const line of mounts.split('\n')) {
    const [device, mountPoint] = line.trim().split(/\s+/);
    if (device === undefined || mountPoint === undefined) continue;
    if (unescapeMountField(mountPoint) === '/usr') source = unescapeMountField(device);
  }
  return source?.startsWith('/') ? source : undefined;
}
