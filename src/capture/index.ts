export { compileClientIpResolver, type ClientIpResolver } from './client-ip.js';
export { formatHeaderRaw, measureHeaderBytes, compileSecretMasker, DEFAULT_SECRET_FIELDS, MASK, type SecretMasker } from './build-record.js';
export { RecordWriter, type RecordWriterOptions } from './record-writer.js';
