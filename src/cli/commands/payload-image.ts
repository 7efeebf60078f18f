// The whole-OS parts of `payload create` and `payload inspect`: --image DIR built into a squashfs or
// erofs image (--fs) in a temporary file beside --out, and `inspect --contents` (filesystem, kernel,
// /postinst), with the lines both commands print about them.

import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { decodePayloadImage, imageContents, type ImageContents } from '../../payload/image-contents.ts';
import { buildTreeImage, TREE_FILESYSTEMS, treeContents, type TreeContents, type TreeFilesystem } from '../../payload/tree-image.ts';
import { usageError } from '../run.ts';

export interface PreparedImage {
  imagePath: string;
  /** For a directory: the filesystem built and what the tree holds. */
  tree?: { fs: TreeFilesystem; contents: TreeContents };
  cleanup(): Promise<void>;
}

/** --image as given: an image file is used as is; a directory is built into an image with --fs (default squashfs). */
export async function prepareImage(image: string, fsOption: string | undefined, out: string): Promise<PreparedImage> {
  const info = await lstat(image).catch(() => undefined);
  if (!info) throw usageError(`Cannot read image "${image}": no such file or directory`);
  if (!info.isDirectory()) {
    if (fsOption !== undefined) throw usageError(`--fs applies to a directory; "${image}" is a file (an image made already)`);
    return { imagePath: image, cleanup: async () => {} };
  }
  const fs = fsOption ?? 'squashfs';
  if (!(TREE_FILESYSTEMS as readonly string[]).includes(fs)) throw usageError(`Unknown --fs "${fs}" (expected ${TREE_FILESYSTEMS.join(' or ')})`);
  const work = await mkdtemp(join(dirname(resolve(out)), '.payload-image-'));
  const cleanup = () => rm(work, { recursive: true, force: true });
  try {
    const imagePath = join(work, `image.${fs}`);
    await buildTreeImage(image, fs as TreeFilesystem, imagePath);
    return { imagePath, tree: { fs: fs as TreeFilesystem, contents: await treeContents(image) }, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

export function describeTree(tree: NonNullable<PreparedImage['tree']>): string {
  const { kernel, postinst } = tree.contents;
  return `image built as ${tree.fs}; kernel /boot/vmlinuz ${kernel}, /postinst ${postinst}`;
}

/** The payload's image contents, rebuilding the image in a temporary directory (removed afterwards). */
export async function payloadContents(payload: string, kernelPath?: string): Promise<ImageContents> {
  const work = await mkdtemp(join(dirname(resolve(payload)), '.payload-inspect-'));
  try {
    const image = join(work, 'image');
    const head = await decodePayloadImage(payload, image);
    return await imageContents(image, head, kernelPath);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
