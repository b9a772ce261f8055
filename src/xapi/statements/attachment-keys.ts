/**
 * Where an attachment's content lives in the BlobStore: content-addressed per store, so one
 * blob serves every statement of the store that declares the same SHA-2. The layout is defined
 * here only; the erasure queue parses it back (`parseAttachmentKey`).
 */
export function attachmentKey(storeId: string, sha2: string): string {
  return `xapi/${storeId}/attachments/${sha2.toLowerCase()}`;
}

const attachmentKeyPattern = /^xapi\/([0-9a-f-]{36})\/attachments\/([0-9a-f]+)$/;

/** The store and hash of an attachment blob key; undefined for any other key. */
export function parseAttachmentKey(key: string): { storeId: string; sha2: string } | undefined {
  const match = attachmentKeyPattern.exec(key);
  return match ? { storeId: match[1]!, sha2: match[2]! } : undefined;
}
