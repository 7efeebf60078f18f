// update-engine payload create|inspect|verify (../shared/CLI.md), plus manifest|attach-signature|sign
// for signing outside the tool (HSM, KMS, openssl). The work is in src/payload; this file parses
// options and prints results.

import { readFile, writeFile, access } from 'node:fs/promises';
import { parseSize, isVersion } from '../../config/values.ts';
import { createLogger } from '../../platform/logger.ts';
import { CHUNKING_CHOICES, createPayload, type ChunkingChoice } from '../../payload/create.ts';
import { addSignature, attachSignature, manifestToSign, type SignedPayloadFile } from '../../payload/external-signing.ts';
import { readPayloadManifest } from '../../payload/inspect.ts';
import { loadKeyring } from '../../payload/keyring.ts';
import { COMPRESSIONS, type Compression } from '../../payload/manifest.ts';
import { isSignatureAlgorithm, SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from '../../payload/signature.ts';
import { verifyPayloadFile } from '../../payload/verify.ts';
import { describeTree, payloadContents, prepareImage } from './payload-image.ts';
import { parseCommandLine, println, usageError, type Command, type CommandContext } from '../run.ts';

const HELP = `Usage: update-engine payload COMMAND [OPTIONS]

Create, inspect, verify and sign update payloads (docs/payload-format.md).

Commands:
  create            make a signed payload from an image file or a rootfs directory
  inspect FILE      print the manifest as JSON (not verified); --contents: filesystem, kernel, /postinst
  verify FILE       check signature, sizes and every hash; exit 0 when all verify
  manifest FILE     write the exact manifest bytes, to be signed elsewhere
  attach-signature  add a signature made elsewhere (openssl, an HSM or KMS)
  sign FILE         add a signature with a local private key (e.g. a second key)

Run 'update-engine payload COMMAND --help' for a command's options.`;

const CREATE_HELP = `Usage: update-engine payload create --image FILE|DIR --private-key PEM --version VERSION --out FILE
                                  [--fs squashfs|erofs] [--block-size BYTES] [--app-id ID] [--board NAME]
                                  [--compression none|gzip|brotli] [--chunking auto|fixed-4k|fastcdc|none]
                                  [--build-time TIME|none] [--unsigned] [--json]

Make a payload from an image file, streaming (memory stays a few blocks whatever the image size).
A directory is first built into a read-only image (mksquashfs or mkfs.erofs, files owned by root);
its /boot/vmlinuz and an executable /postinst are what the post-install step uses on the machine.

Options:
  --image FILE|DIR      the image to ship (the contents of a USR partition), or a rootfs directory
  --fs squashfs|erofs   the filesystem to build a directory into (default squashfs)
  --private-key PEM     sign with this private key (Ed25519, RSA or ECDSA P-256; repeatable)
  --unsigned            write no signature: sign later with 'payload manifest' + 'attach-signature'
  --version VERSION     the OS version in the image (semver-like, e.g. 3374.2.0)
  --out FILE            where to write the payload (written to a temporary file, then renamed)
  --block-size BYTES    block size, a power of two from 4K to 64M (K/M suffixes); default 1M
  --app-id ID           only machines with this APP_ID accept it (default: any)
  --board NAME          only machines with this BOARD accept it (default: any)
  --compression C       none (default), gzip or brotli, each block on its own
  --chunking SCHEME     the chunk index that lets machines fetch only what changed (format version 2):
                        auto (default: fixed-4k for ext2/3/4, erofs and btrfs with 4 KiB blocks, else fastcdc),
                        fixed-4k, fastcdc, or none (format version 1, for engines from before version 2)
  --build-time TIME     build time signed into the manifest: ISO 8601 or Unix seconds; default
                        SOURCE_DATE_EPOCH, else now.
                        "none" leaves it out, for machines whose engine predates it (they refuse it)
  --json                print the result as JSON
  -h, --help            show this help

Prints the payload's size and SHA-256 (base64), as an Omaha server offers them.`;

const INSPECT_HELP = `Usage: update-engine payload inspect [--contents] FILE

Print the payload's manifest as JSON: version, appId and board (when set), image size, block size and
count, compression, image and block table hashes, and for format version 2 the chunk scheme, chunk
count and chunk index hash. Reads only the first entry; nothing is verified.

  --contents   also rebuild the image in a temporary file beside FILE and print, as "contents", its
               filesystem (ext4, erofs, squashfs, btrfs or none) and whether it holds a kernel at
               /boot/vmlinuz and an executable /postinst (read with unsquashfs, dump.erofs or debugfs;
               "unknown" when the tool is missing)`;

const VERIFY_HELP = `Usage: update-engine payload verify --public-key PEM|DIR FILE
                                  [--app-id ID] [--board NAME] [--running-version V] [--allow-downgrade] [--json]

Verify a payload completely, as an apply would, without writing it anywhere: a signature by a trusted,
unrevoked key, the layout and sizes, every block against the signed block table, the image hash.

Options:
  --public-key PEM|DIR  trusted keys: a PEM file, or a directory of *.pem (revoked/ and revoked.list honoured)
  --app-id ID, --board NAME, --running-version V, --allow-downgrade
                        also check the payload is for that machine, as the daemon does
  --json                print the result as JSON
  -h, --help            show this help

Exit status: 0 when everything verifies; otherwise 4 (payload) or 2 (usage), with the reason.`;

const MANIFEST_HELP = `Usage: update-engine payload manifest FILE [--out FILE]

Write the exact bytes of FILE's manifest (what every signature covers) to --out or stdout, to be
signed elsewhere, e.g. for Ed25519:
  openssl pkeyutl -sign -inkey release.pem -rawin -in manifest.json -out manifest.sig
or for RSA (PKCS#1 v1.5 with SHA-256):
  openssl dgst -sha256 -sign release-rsa.pem -out manifest.sig manifest.json`;

const ATTACH_HELP = `Usage: update-engine payload attach-signature FILE --signature SIG --public-key PEM
                                            [--algorithm ALG] [--out FILE]

Add a signature made elsewhere to FILE. The signature is checked against the public key first: one
that does not verify over the manifest is refused. A signature by the same key is replaced.

Options:
  --signature SIG     the signature: raw bytes (openssl's output) or base64 text
  --public-key PEM    the signer's public key (gives the key id)
  --algorithm ALG     ${SIGNATURE_ALGORITHMS.join(', ')} (default: from the key;
                      RSA keys default to rsa-pkcs1-sha256)
  --out FILE          write the signed payload there (default: replace FILE atomically)`;

const SIGN_HELP = `Usage: update-engine payload sign FILE --private-key PEM [--algorithm ALG] [--out FILE]

Add a signature with a local private key, e.g. a new key during a rotation (machines accept a payload
when any signature is by a trusted, unrevoked key). A signature by the same key is replaced.`;

function showHelp(ctx: CommandContext, text: string): number {
  println(ctx.stdout, text);
  return 0;
}

function withHelp<T extends Record<string, unknown>>(options: T) {
  return { ...options, help: { type: 'boolean' as const, short: 'h' } };
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw usageError(`Missing ${flag}`);
  return value;
}

function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw usageError(positionals.length === 0 ? `Missing the ${what}` : `Expected one ${what}, got ${positionals.length}`);
  return positionals[0] as string;
}

async function readable(path: string, what: string): Promise<void> {
  try {
    await access(path);
  } catch {
    throw usageError(`Cannot read ${what} "${path}": no such file`);
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw usageError(`Cannot read ${what} "${path}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function algorithmOption(value: string | undefined): SignatureAlgorithm | undefined {
  if (value === undefined) return undefined;
  if (!isSignatureAlgorithm(value)) throw usageError(`Unknown --algorithm "${value}" (expected ${SIGNATURE_ALGORITHMS.join(', ')})`);
  return value;
}

async function create(argv: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseCommandLine(
    argv,
    withHelp({
      image: { type: 'string' },
      fs: { type: 'string' },
      'private-key': { type: 'string', multiple: true },
      unsigned: { type: 'boolean' },
      version: { type: 'string' },
      out: { type: 'string' },
      'block-size': { type: 'string' },
      'app-id': { type: 'string' },
      board: { type: 'string' },
      compression: { type: 'string' },
      chunking: { type: 'string' },
      'build-time': { type: 'string' },
      json: { type: 'boolean' },
    }),
  );
  if (values.help) return showHelp(ctx, CREATE_HELP);
  const buildTimeSeconds = parseBuildTime(values['build-time']);
  const keys = values['private-key'] ?? [];
  if (keys.length === 0 && !values.unsigned) throw usageError('Missing --private-key (or --unsigned, to sign elsewhere)');
  if (keys.length > 0 && values.unsigned) throw usageError('--unsigned and --private-key exclude each other');
  const version = required(values.version, '--version');
  if (!isVersion(version)) throw usageError(`--version "${version}" is not a semver-like version (e.g. 3374.2.0)`);
  const compression = values.compression ?? 'none';
  if (!(COMPRESSIONS as readonly string[]).includes(compression))
    throw usageError(`Unknown --compression "${compression}" (expected ${COMPRESSIONS.join(', ')})`);
  const chunking = values.chunking ?? 'auto';
  if (!(CHUNKING_CHOICES as readonly string[]).includes(chunking))
    throw usageError(`Unknown --chunking "${chunking}" (expected ${CHUNKING_CHOICES.join(', ')})`);
  let blockSizeBytes: number | undefined;
  if (values['block-size'] !== undefined) {
    try {
      blockSizeBytes = parseSize(values['block-size']);
    } catch (e) {
      throw usageError(`--block-size "${values['block-size']}": ${(e as Error).message}`);
    }
  }
  const out = required(values.out, '--out');
  const prepared = await prepareImage(required(values.image, '--image'), values.fs, out);
  const result = await createPayload({
    imagePath: prepared.imagePath,
    out,
    version,
    privateKeyPem: await Promise.all(keys.map((k) => readText(k, 'private key'))),
    unsigned: values.unsigned === true,
    compression: compression as Compression,
    chunking: chunking as ChunkingChoice,
    blockSizeBytes,
    appId: values['app-id'],
    board: values.board,
    buildTimeSeconds,
  }).finally(() => prepared.cleanup());
  const m = result.manifest;
  if (values.json) {
    const { manifestBytes: _bytes, ...rest } = result;
    println(
      ctx.stdout,
      JSON.stringify({ out: values.out, ...rest, ...(prepared.tree ? { filesystem: prepared.tree.fs, ...prepared.tree.contents } : {}) }, null, 2),
    );
    return 0;
  }
  if (prepared.tree) println(ctx.stdout, describeTree(prepared.tree));
  println(ctx.stdout, `Wrote "${values.out}": ${result.payloadSizeBytes} bytes, sha256 ${result.payloadSha256Base64}`);
  println(
    ctx.stdout,
    `version ${m.version}, image ${m.imageSize} bytes in ${m.blockCount} blocks of ${m.blockSize}, compression ${m.compression}${m.chunkScheme ? `, ${m.chunkCount} chunks (${m.chunkScheme})` : ', no chunk index (format version 1)'}`,
  );
  println(
    ctx.stdout,
    result.signatureKeyIds.length === 0 ? 'unsigned: sign it with payload manifest + attach-signature' : `signed by key ${result.signatureKeyIds.join(', ')}`,
  );
  return 0;
}

async function inspect(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, withHelp({ contents: { type: 'boolean' } }), true);
  if (values.help) return showHelp(ctx, INSPECT_HELP);
  const path = onePositional(positionals, 'payload FILE');
  await readable(path, 'payload');
  const manifest = await readPayloadManifest(path);
  println(ctx.stdout, JSON.stringify(values.contents ? { ...manifest, contents: await payloadContents(path) } : manifest, null, 2));
  return 0;
}

async function verify(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    withHelp({
      'public-key': { type: 'string' },
      'app-id': { type: 'string' },
      board: { type: 'string' },
      'running-version': { type: 'string' },
      'allow-downgrade': { type: 'boolean' },
      json: { type: 'boolean' },
    }),
    true,
  );
  if (values.help) return showHelp(ctx, VERIFY_HELP);
  const path = onePositional(positionals, 'payload FILE');
  const logger = createLogger({ level: 'warn', destination: ctx.stderr, pretty: false, name: 'payload' });
  const keyring = await loadKeyring(required(values['public-key'], '--public-key'), { logger });
  await readable(path, 'payload');
  const machine = values['app-id'] !== undefined || values.board !== undefined || values['running-version'] !== undefined;
  const result = await verifyPayloadFile(path, {
    keyring,
    logger,
    signal: ctx.signal,
    ...(machine && {
      expect: {
        appId: values['app-id'] ?? '',
        allowDowngrade: values['allow-downgrade'] === true,
        board: values.board,
        runningVersion: values['running-version'],
      },
    }),
  });
  const { manifest: m } = result;
  if (values.json) {
    println(
      ctx.stdout,
      JSON.stringify(
        {
          ok: true,
          signedBy: result.signedBy,
          payloadSizeBytes: result.payloadSizeBytes,
          payloadSha256Base64: result.payloadSha256Base64,
          imageSha256Hex: result.imageSha256Hex,
          manifest: m,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  println(ctx.stdout, `OK: "${path}" version ${m.version}, signed by key ${result.signedBy}`);
  println(
    ctx.stdout,
    `payload ${result.payloadSizeBytes} bytes, sha256 ${result.payloadSha256Base64}; image ${m.imageSize} bytes, sha256 ${result.imageSha256Hex}`,
  );
  return 0;
}

async function manifest(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, withHelp({ out: { type: 'string' } }), true);
  if (values.help) return showHelp(ctx, MANIFEST_HELP);
  const path = onePositional(positionals, 'payload FILE');
  await readable(path, 'payload');
  const bytes = await manifestToSign(path);
  if (values.out) await writeFile(values.out, bytes);
  else ctx.stdout.write(bytes);
  return 0;
}

function printSigned(ctx: CommandContext, r: SignedPayloadFile): number {
  println(ctx.stdout, `Signed by key ${r.keyId}: wrote "${r.out}": ${r.payloadSizeBytes} bytes, sha256 ${r.payloadSha256Base64}`);
  println(ctx.stdout, `signatures: ${r.signatureKeyIds.join(', ')}`);
  return 0;
}

/** A signature file: raw bytes, or base64 text (as some KMS return it). */
async function readSignature(path: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw usageError(`Cannot read signature "${path}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const text = bytes.toString('latin1').trim();
  return /^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0 && text.length >= 64 ? Buffer.from(text, 'base64') : bytes;
}

async function attach(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    withHelp({ signature: { type: 'string' }, 'public-key': { type: 'string' }, algorithm: { type: 'string' }, out: { type: 'string' } }),
    true,
  );
  if (values.help) return showHelp(ctx, ATTACH_HELP);
  const path = onePositional(positionals, 'payload FILE');
  const signature = await readSignature(required(values.signature, '--signature'));
  const publicKeyPem = await readText(required(values['public-key'], '--public-key'), 'public key');
  const algorithm = algorithmOption(values.algorithm);
  await readable(path, 'payload');
  return printSigned(ctx, await attachSignature(path, { signature, publicKeyPem, algorithm, ...(values.out && { out: values.out }) }));
}

async function sign(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    withHelp({ 'private-key': { type: 'string' }, algorithm: { type: 'string' }, out: { type: 'string' } }),
    true,
  );
  if (values.help) return showHelp(ctx, SIGN_HELP);
  const path = onePositional(positionals, 'payload FILE');
  const privateKeyPem = await readText(required(values['private-key'], '--private-key'), 'private key');
  const algorithm = algorithmOption(values.algorithm);
  await readable(path, 'payload');
  return printSigned(ctx, await addSignature(path, { privateKeyPem, algorithm, ...(values.out && { out: values.out }) }));
}

const SUBCOMMANDS: Record<string, (argv: string[], ctx: CommandContext) => Promise<number>> = {
  create,
  inspect,
  verify,
  manifest,
  'attach-signature': attach,
  sign,
};

export const run: Command = async (argv, ctx) => {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    println(name === undefined ? ctx.stderr : ctx.stdout, HELP);
    return name === undefined ? 2 : 0;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) throw usageError(`Unknown payload command "${name}" (expected ${Object.keys(SUBCOMMANDS).join(', ')})`);
  return sub(rest, ctx);
};

/** --build-time: undefined = now (createPayload's default), "none" = null, ISO 8601 or Unix seconds. */
function parseBuildTime(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  if (text === 'none') return null;
  if (/^\d+$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(ms))
    throw usageError(`--build-time "${text}" is not ISO 8601 (e.g. 2026-12-06T10:00:00Z), Unix seconds or "none"`);
  return Math.floor(ms / 1000);
}
