import type { Config } from '../config/index.js';
import type { BlobStore } from './blob-store.js';
import { LocalBlobStore } from './local.js';

export type { BlobStore, BlobMetadata, BlobListEntry, BlobObject, ByteRange, PutOptions } from './blob-store.js';
export { LocalBlobStore } from './local.js';

export async function createBlobStore(config: Config): Promise<BlobStore> {
  if (config.blobStore === 's3' && config.s3) {
    // Loaded only when configured: the AWS SDK costs several MB of memory in every process.
    const { S3BlobStore } = await import('./s3.js');
    return new S3BlobStore(config.s3);
  }
  return new LocalBlobStore(config.blobDir).init();
}
