// Signing outside the tool (HSM, KMS, openssl): the exact manifest bytes to sign, attaching a signature
// made elsewhere, and adding a signature with a local key. A payload is rewritten with its new
// signatures entry (the other entries are copied as they are) to a new file or in place, atomically.

import { open } from 'node:fs/promises';
import { UpdateEngineError, wrapError } from '../errors.ts';
import { readManifestBytesFromFile, readPayloadFileHeader } from './inspect.ts';
import type { PayloadHeader, RawSignature } from './payload-header.ts';
import { writePayloadArchive, type DataSink } from './payload-writer.ts';
import { checkedSignature, signWithPrivateKey } from './signers.ts';
import { MAX_SIGNATURES, serializeSignatures, type PayloadSignature, type SignatureAlgorithm } from './signature.ts';

const COPY_CHUNK_BYTES = 1024 * 1024;

export interface SignedPayloadFile {
  /** Key id of the signature just added. */
  keyId: string;
  /** Key ids of all signatures now on the payload, in order. */
  signatureKeyIds: string[];
  out: string;
  payloadSizeBytes: number;
  payloadSha256Base64: string;
}

/** The exact bytes a signature must cover: the manifest entry (reads only the first entry). */
export function manifestToSign(payloadPath: string): Promise<Buffer> {
  return readManifestBytesFromFile(payloadPath);
}

async function copyData(path: string, header: PayloadHeader, sink: DataSink): Promise<void> {
  const fh = await open(path, 'r');
  try {
    let done = 0;
    while (done < header.dataSizeBytes) {
      const want = Math.min(COPY_CHUNK_BYTES, header.dataSizeBytes - done);
      const chunk = Buffer.allocUnsafeSlow(want);
      const { bytesRead } = await fh.read(chunk, 0, want, header.dataOffset + done);
      if (bytesRead !== want)
        throw new UpdateEngineError(
          'ERR_PAYLOAD_FORMAT',
          `Payload "${path}" is truncated inside the image data at offset ${header.dataOffset + done + bytesRead}`,
        );
      await sink(chunk);
      done += want;
    }
  } finally {
    await fh.close();
  }
}

/** Rewrites a payload with `signature` added (replacing an earlier one by the same key). */
async function rewriteWith(path: string, header: PayloadHeader, signature: PayloadSignature, out: string): Promise<SignedPayloadFile> {
  const kept: RawSignature[] = header.signatures.filter((s) => s.keyId !== signature.keyId);
  if (kept.length + 1 > MAX_SIGNATURES)
    throw new UpdateEngineError('ERR_USAGE', `Payload "${path}" already holds ${kept.length} signatures, the most allowed is ${MAX_SIGNATURES}`);
  const signatures = [...kept, signature];
  const written = await writePayloadArchive(out, {
    manifestBytes: header.manifestBytes,
    signaturesBytes: serializeSignatures(signatures),
    tableBytes: header.blockTable.bytes,
    chunkIndexBytes: header.chunkIndex?.bytes,
    dataSizeBytes: header.dataSizeBytes,
    writeData: (sink) => copyData(path, header, sink),
  });
  return {
    keyId: signature.keyId,
    signatureKeyIds: signatures.map((s) => s.keyId),
    out,
    payloadSizeBytes: written.sizeBytes,
    payloadSha256Base64: written.sha256Base64,
  };
}

async function headerOf(path: string): Promise<PayloadHeader> {
  try {
    return await readPayloadFileHeader(path);
  } catch (e) {
    throw wrapError(e, 'ERR_PAYLOAD_FORMAT', `Cannot read payload "${path}"`);
  }
}

export interface AttachSignatureOptions {
  /** The raw signature bytes (e.g. the output of `openssl pkeyutl -sign -rawin`). */
  signature: Uint8Array;
  /** The signer's public key: the signature must verify with it before it is attached. */
  publicKeyPem: string | Buffer;
  algorithm?: SignatureAlgorithm | undefined;
  /** Where to write the signed payload; default: replace `payloadPath` (atomically). */
  out?: string;
}

/** Attaches a signature made elsewhere; ERR_PAYLOAD_SIGNATURE when it does not verify over the manifest. */
export async function attachSignature(payloadPath: string, options: AttachSignatureOptions): Promise<SignedPayloadFile> {
  const header = await headerOf(payloadPath);
  const signature = checkedSignature(header.manifestBytes, options.signature, options.publicKeyPem, options.algorithm);
  return rewriteWith(payloadPath, header, signature, options.out ?? payloadPath);
}

export interface AddSignatureOptions {
  privateKeyPem: string | Buffer;
  algorithm?: SignatureAlgorithm | undefined;
  out?: string;
}

/** Adds a signature with a local private key (a second key during a rotation, for example). */
export async function addSignature(payloadPath: string, options: AddSignatureOptions): Promise<SignedPayloadFile> {
  const header = await headerOf(payloadPath);
  const signature = signWithPrivateKey(header.manifestBytes, options.privateKeyPem, options.algorithm);
  return rewriteWith(payloadPath, header, signature, options.out ?? payloadPath);
}
