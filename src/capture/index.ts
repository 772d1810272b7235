export { compileClientIpResolver, type ClientIpResolver } from './client-ip.js';
export { formatHeaderRaw, measureHeaderBytes, compileSecretMasker, DEFAULT_SECRET_FIELDS, MASK, type SecretMasker } from './build-record.js';
export { RecordWriter, type RecordWriterOptions } from './record-writer.js';
export { classifyCall, normaliseCallPath, type CallClass, type ClassifyCallInput } from './classify-call.js';
export { DiskSpool, type DiskSpoolOptions } from './spool/disk-spool.js';
export { Gateway, GATEWAY_REQUEST_ID_HEADER, type ErrorAnswer, type GatewayEvents, type GatewayOptions } from './gateway.js';
export { RequestIdScanner } from './request-id-scanner.js';
export type { RecordSink } from './record-sink.js';
export { RemoteRecordSink, serveRemoteRecords, type IpcChannel, type PrimaryMessage, type WorkerMessage } from './remote-record-sink.js';
