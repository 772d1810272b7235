export type { LogStore, AppendResult, LogCursor, LogQuery, LogPage } from './log-store.js';
export { RetentionScheduler, type RetentionOptions } from './retention.js';
