export { compileClientIpResolver, type ClientIpResolver } from './client-ip.js';
export { formatHeaderRaw, measureHeaderBytes, compileSecretMasker, DEFAULT_SECRET_FIELDS, MASK, type SecretMasker } from './build-record.js';
export { RecordWriter, type RecordWriterOptions } from './record-writer.js';
export { classifyCall, normaliseCallPath, type CallClass, type ClassifyCallInput } from './classify-call.js';
export { DiskSpool, type DiskSpoolOptions } from './spool/disk-spool.js';
export { ingestBatch, ingestRecordLimit, IngestCommitter, parseIngestBody, type CommitOutcome, type IngestDeps, type IngestFormat, type IngestRejection, type IngestReport, type ParsedIngestBody } from './ingest.js';
export { compileBearerVerifier, type BearerCheck, type BearerVerifier } from './ingest-token.js';
