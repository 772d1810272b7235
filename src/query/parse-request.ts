import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { LOG_FIELDS, type LogField } from '../domain/log.js';
import { OmsError } from '../domain/oms-error.js';
import { parseIsoDate, type ParsedDate } from '../domain/time.js';

/**
 * Strict parsing of a ReadApiLogs request, as the OUTSCALE API description says
 * (reference/outscale-api-readapilogs.yaml, `additionalProperties: false` everywhere):
 * an unknown parameter, filter or With key is 3001 UnknownParameter; a wrong type or value is 4045.
 */

export const MAX_RESULTS_PER_PAGE = 1000;
export const DEFAULT_RESULTS_PER_PAGE = 100;
/** Per filter list; bounds the SQL a single call can ask for. */
export const MAX_FILTER_VALUES = 1000;
export const MAX_FILTER_VALUE_CHARS = 1024;
export const MAX_PAGE_TOKEN_CHARS = 2048;

export interface ApiLogFilters {
  QueryAccessKeys?: string[];
  QueryApiNames?: string[];
  QueryCallNames?: string[];
  QueryDateAfter?: string;
  QueryDateBefore?: string;
  QueryIpAddresses?: string[];
  QueryUserAgents?: string[];
  RequestIds?: string[];
  ResponseStatusCodes?: number[];
}

export interface ReadApiLogsRequest {
  DryRun?: boolean;
  Filters?: ApiLogFilters;
  NextPageToken?: string;
  ResultsPerPage?: number;
  With?: Partial<Record<LogField, boolean>>;
}

/** The request after validation: dates parsed, defaults applied, With resolved to a field list. */
export interface ParsedReadApiLogs {
  dryRun: boolean;
  filters: ApiLogFilters;
  dateAfter?: ParsedDate;
  dateBefore?: ParsedDate;
  nextPageToken?: string;
  resultsPerPage: number;
  /** Fields each returned log shows, in the order of the Log schema; all 16 by default. */
  fields: readonly LogField[];
}

const stringList = {
  type: 'array',
  maxItems: MAX_FILTER_VALUES,
  items: { type: 'string', maxLength: MAX_FILTER_VALUE_CHARS },
};

const date = { type: 'string', maxLength: 64 };

const requestSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    DryRun: { type: 'boolean' },
    Filters: {
      type: 'object',
      additionalProperties: false,
      properties: {
        QueryAccessKeys: stringList,
        QueryApiNames: stringList,
        QueryCallNames: stringList,
        QueryDateAfter: date,
        QueryDateBefore: date,
        QueryIpAddresses: stringList,
        QueryUserAgents: stringList,
        RequestIds: stringList,
        ResponseStatusCodes: {
          type: 'array',
          maxItems: MAX_FILTER_VALUES,
          items: { type: 'integer', minimum: 100, maximum: 599 },
        },
      },
    },
    // No length limit here: an overlong token is an invalid token (4078), judged by the codec.
    NextPageToken: { type: 'string' },
    ResultsPerPage: { type: 'integer', minimum: 1, maximum: MAX_RESULTS_PER_PAGE },
    With: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(LOG_FIELDS.map((f) => [f, { type: 'boolean' }])),
    },
  },
} as const;

// One compiled validator for the life of the process; no coercion (the string "10" is not 10),
// no defaults injected, all errors so that an unknown key is reported even next to a type error.
const ajv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: false, strict: true });
const validateRequest: ValidateFunction<ReadApiLogsRequest> = ajv.compile<ReadApiLogsRequest>(requestSchema);

function location(error: ErrorObject): string {
  const pointer = error.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return pointer.length === 0 ? 'the request' : pointer.map((p, i) => (/^\d+$/.test(p) && i > 0 ? `[${p}]` : (i > 0 ? '.' : '') + p)).join('');
}

function quoteKey(key: string): string {
  return JSON.stringify(key.length > 64 ? key.slice(0, 64) + '…' : key);
}

function toOmsError(errors: readonly ErrorObject[]): OmsError {
  // Unknown keys first: they are the 3001 case, whatever else is wrong.
  const unknown = errors.find((e) => e.keyword === 'additionalProperties');
  if (unknown) {
    const key = String((unknown.params as { additionalProperty: string }).additionalProperty);
    const where = unknown.instancePath === '' ? 'parameter' : unknown.instancePath === '/Filters' ? 'filter' : unknown.instancePath === '/With' ? 'With key' : 'key';
    return new OmsError('UnknownParameter', `Unknown ${where} ${quoteKey(key)}.`);
  }
  const first = errors[0];
  if (first === undefined) return new OmsError('InvalidParameterValue', 'The request is not valid.');
  const at = location(first);
  switch (first.keyword) {
    case 'type':
      return new OmsError('InvalidParameterValue', `${at} must be ${article(String((first.params as { type: string }).type))}.`);
    case 'minimum':
    case 'maximum':
      if (at === 'ResultsPerPage') return new OmsError('InvalidParameterValue', `ResultsPerPage must be between 1 and ${MAX_RESULTS_PER_PAGE}.`);
      return new OmsError('InvalidParameterValue', `${at} must be an HTTP status code between 100 and 599.`);
    case 'maxItems':
      return new OmsError('InvalidParameterValue', `${at} accepts at most ${MAX_FILTER_VALUES} values.`);
    case 'maxLength':
      return new OmsError('InvalidParameterValue', `${at} is too long.`);
    default:
      return new OmsError('InvalidParameterValue', `${at} is not valid.`);
  }
}

function article(type: string): string {
  switch (type) {
    case 'integer':
      return 'an integer';
    case 'array':
      return 'a list';
    case 'object':
      return 'an object';
    case 'boolean':
      return 'a boolean';
    default:
      return `a ${type}`;
  }
}

const LIST_FILTERS = ['QueryAccessKeys', 'QueryApiNames', 'QueryCallNames', 'QueryIpAddresses', 'QueryUserAgents', 'RequestIds'] as const;

function parseDate(name: string, text: string | undefined): ParsedDate | undefined {
  if (text === undefined) return undefined;
  const parsed = parseIsoDate(text);
  if (parsed === undefined) {
    throw new OmsError('InvalidParameterValue', `Filters.${name} must be an ISO 8601 date or date-time such as 2020-06-14 or 2020-06-14T00:00:00.000Z.`);
  }
  return parsed;
}

/** Validates a decoded JSON body. Throws OmsError (3001 or 4045) on anything not allowed. */
export function parseReadApiLogsRequest(body: unknown): ParsedReadApiLogs {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new OmsError('InvalidParameterValue', 'The request body must be a JSON object.');
  }
  if (!validateRequest(body)) throw toOmsError(validateRequest.errors ?? []);
  const filters = body.Filters ?? {};
  for (const name of LIST_FILTERS) {
    for (const value of filters[name] ?? []) {
      // NUL and lone surrogates cannot be stored or compared faithfully: reject rather than guess.
      if (value.includes('\u0000') || !value.isWellFormed()) {
        throw new OmsError('InvalidParameterValue', `Filters.${name} contains a character that is not allowed.`);
      }
    }
  }
  if (body.NextPageToken !== undefined && body.NextPageToken.includes('\u0000')) {
    throw new OmsError('InvalidPageToken', 'The NextPageToken is not valid for this request.');
  }
  const parsed: ParsedReadApiLogs = {
    dryRun: body.DryRun ?? false,
    filters,
    resultsPerPage: body.ResultsPerPage ?? DEFAULT_RESULTS_PER_PAGE,
    fields: body.With === undefined ? LOG_FIELDS : LOG_FIELDS.filter((f) => body.With?.[f] !== false),
  };
  const after = parseDate('QueryDateAfter', filters.QueryDateAfter);
  const before = parseDate('QueryDateBefore', filters.QueryDateBefore);
  if (after !== undefined) parsed.dateAfter = after;
  if (before !== undefined) parsed.dateBefore = before;
  if (body.NextPageToken !== undefined) parsed.nextPageToken = body.NextPageToken;
  return parsed;
}
