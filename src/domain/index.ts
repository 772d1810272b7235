export * from './log.js';
export * from './time.js';
export * from './oms-error.js';
export * from './call-name.js';
export * from './validate-log.js';
