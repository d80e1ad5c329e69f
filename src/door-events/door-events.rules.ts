/**
 * Pure rules of door-event ingest: the vocabulary, record validation with stable reason
 * codes, ISO-8601 and local-time parsing (Europe/Amsterdam with DST, via Intl), late
 * detection against the policy's retention, and CSV parsing with a per-source column mapping.
 * No I/O here; the service resolves door codes and hands in the lookups.
 */
import { z } from 'zod';

export const SOURCE_KINDS = ['http', 'csv', 'mqtt'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

export const EVENT_RESULTS = ['granted', 'denied', 'other'] as const;
export type EventResult = (typeof EVENT_RESULTS)[number];

/** Stable reason codes for a rejected record. Part of the API: never rename, only add. */
export const REJECTION_REASONS = [
  'record-invalid',
  'record-too-large',
  'source-event-id-missing',
  'source-event-id-invalid',
  'occurred-at-missing',
  'occurred-at-invalid',
  'occurred-at-future',
  'door-missing',
  'door-unknown',
  'door-out-of-scope',
  'tag-missing',
  'tag-invalid',
  'result-missing',
  'result-invalid',
  'csv-field-count',
  'csv-quote-unterminated',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export const LIMITS = {
  sourceEventId: 128,
  doorCode: 64,
  tag: 64,
  /** Raw payload kept with the event, in characters. */
  rawPayload: 4096,
  /** Clock skew tolerated for events "from the future" (a controller with a wrong clock). */
  futureSkewMs: 5 * 60_000,
} as const;

// --- time -------------------------------------------------------------------------------------

const ISO_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeapYear = (y: number) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
const daysInMonth = (y: number, mo: number) => (mo === 2 && isLeapYear(y) ? 29 : DAYS_IN_MONTH[mo - 1]!);

function wallClockMs(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  fraction: string | undefined,
): number | null {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  if (d > daysInMonth(y, mo)) return null;
  const ms = fraction ? (fraction.length === 3 ? Number(fraction) : Math.floor(Number(`0.${fraction}`) * 1000)) : 0;
  const utc = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  if (y >= 100) return utc;
  // Date.UTC reads years 0-99 as 1900-1999; only then is a Date object needed.
  const date = new Date(utc);
  date.setUTCFullYear(y);
  return date.getTime();
}

const digit = (text: string, at: number): number => text.charCodeAt(at) - 48;
const twoDigits = (text: string, at: number): number => {
  const a = digit(text, at);
  const b = digit(text, at + 1);
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
};

/**
 * `YYYY-MM-DDTHH:MM:SS.sssZ`, what `Date.prototype.toISOString` and most controllers send, read
 * without a regular expression (ingest reads tens of thousands per second); null when the text has
 * another shape, which the general pattern below then reads.
 */
function parseCanonicalUtc(text: string): number | null {
  if (text.length !== 24 || text.charCodeAt(23) !== 90 /* Z */) return null;
  if (text[4] !== '-' || text[7] !== '-' || text[10] !== 'T' || text[13] !== ':' || text[16] !== ':') return null;
  if (text[19] !== '.') return null;
  const century = twoDigits(text, 0);
  const yy = twoDigits(text, 2);
  const mo = twoDigits(text, 5);
  const d = twoDigits(text, 8);
  const h = twoDigits(text, 11);
  const mi = twoDigits(text, 14);
  const s = twoDigits(text, 17);
  const ms1 = twoDigits(text, 20);
  const ms2 = digit(text, 22);
  if (century < 0 || yy < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0 || ms1 < 0 || ms2 < 0 || ms2 > 9)
    return null;
  return wallClockMs(century * 100 + yy, mo, d, h, mi, s, text.slice(20, 23));
}

/** ISO-8601 date-time with an explicit offset (`Z` or `±hh:mm`) to epoch ms; null otherwise. */
export function parseIsoWithOffset(text: string): number | null {
  const canonical = parseCanonicalUtc(text);
  if (canonical !== null) return canonical;
  const m = ISO_PATTERN.exec(text.trim());
  if (!m) return null;
  const wall = wallClockMs(
    Number(m[1]),
    Number(m[2]),
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6] ?? 0),
    m[7],
  );
  if (wall === null) return null;
  const zone = m[8] ?? 'Z';
  if (zone === 'Z' || zone === 'z') return wall;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const oh = Number(digits.slice(0, 2));
  const om = Number(digits.slice(2) || '0');
  if (oh > 23 || om > 59) return null;
  return wall - sign * (oh * 60 + om) * 60_000;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC at an instant, in ms (e.g. +7,200,000 for CEST). */
export function zoneOffsetMs(instant: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(instant))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const asUtc = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
  const wholeSeconds = instant - (((instant % 1000) + 1000) % 1000);
  return asUtc - wholeSeconds;
}

const DAY_MS = 86_400_000;

/**
 * A wall-clock time in a zone to UTC epoch ms. Disambiguation as Temporal's "compatible":
 * a time that occurs twice (the last Sunday of October, 02:00-03:00 in Europe/Amsterdam)
 * means the earlier instant; a time that does not exist (the gap in March) is moved forward
 * by the gap.
 */
export function localToUtc(wallMs: number, timeZone: string): number {
  const before = zoneOffsetMs(wallMs - DAY_MS, timeZone);
  const after = zoneOffsetMs(wallMs + DAY_MS, timeZone);
  const candidates = [wallMs - before, wallMs - after].filter(
    (t, i) => zoneOffsetMs(t, timeZone) === (i === 0 ? before : after),
  );
  if (candidates.length === 0) return wallMs - before; // in the gap
  return Math.min(...candidates);
}

export const TIME_FORMATS = ['iso-offset', 'local-ymd', 'local-dmy'] as const;
export type TimeFormat = (typeof TIME_FORMATS)[number];

const LOCAL_YMD = /^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?$/;
const LOCAL_DMY = /^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?$/;

/**
 * Parses a time in the given format: `iso-offset` needs an explicit offset; `local-ymd`
 * (2025-10-26 02:30[:00]) and `local-dmy` (26-10-2025 02:30[:00], also / or .) are wall-clock
 * times in `timeZone`. Returns null when unparsable.
 */
export function parseTime(text: string, format: TimeFormat, timeZone: string): number | null {
  const value = text.trim();
  if (format === 'iso-offset') return parseIsoWithOffset(value);
  const m = (format === 'local-ymd' ? LOCAL_YMD : LOCAL_DMY).exec(value);
  if (!m) return null;
  const [y, mo, d] =
    format === 'local-ymd' ? [Number(m[1]), Number(m[2]), Number(m[3])] : [Number(m[3]), Number(m[2]), Number(m[1])];
  const wall = wallClockMs(y, mo, d, Number(m[4]), Number(m[5]), Number(m[6] ?? 0), m[7]);
  return wall === null ? null : localToUtc(wall, timeZone);
}

// --- records ----------------------------------------------------------------------------------

/** A record as delivered, before validation: JSON fields (HTTP, MQTT) or mapped CSV fields. */
export interface RawRecord {
  sourceEventId?: unknown;
  occurredAt?: unknown;
  door?: unknown;
  tag?: unknown;
  result?: unknown;
}

/** A record whose fields have the right shape; the door is still a code. */
export interface ParsedRecord {
  sourceEventId: string;
  occurredAt: number;
  doorCode: string;
  tagCode: string;
  result: EventResult;
  rawPayload: string | null;
}

export type ParseOutcome = { ok: true; record: ParsedRecord } | { ok: false; reason: RejectionReason };

export interface ParseOptions {
  timeFormat: TimeFormat;
  timeZone: string;
  /** Source vocabulary to ours (lower-cased keys), e.g. {"ok": "granted"}; ours always accepted. */
  resultMap?: Record<string, EventResult>;
}

export const ISO_OPTIONS: ParseOptions = { timeFormat: 'iso-offset', timeZone: 'UTC' };

// Control characters (C0, DEL, C1) are not part of a tag or door code.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const isBlank = (value: unknown) => value === undefined || value === null || value === '';

function boundedText(value: unknown, max: number): string | null {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== 'string') return null;
  const trimmed = text.trim();
  if (trimmed.length === 0 || trimmed.length > max || CONTROL.test(trimmed)) return null;
  return trimmed;
}

// At module level: a closure made per record showed up in the ingest profile.
const fail = (reason: RejectionReason): ParseOutcome => ({ ok: false, reason });

/** Checks the shape of one record: every field present, bounded and in the vocabulary. */
export function parseRecord(input: RawRecord, options: ParseOptions, rawPayload: string | null): ParseOutcome {
  if (rawPayload !== null && rawPayload.length > LIMITS.rawPayload) return fail('record-too-large');

  if (isBlank(input.sourceEventId)) return fail('source-event-id-missing');
  const sourceEventId = boundedText(input.sourceEventId, LIMITS.sourceEventId);
  if (sourceEventId === null) return fail('source-event-id-invalid');

  if (isBlank(input.occurredAt)) return fail('occurred-at-missing');
  const occurredAt =
    typeof input.occurredAt === 'string' && input.occurredAt.length <= 64
      ? parseTime(input.occurredAt, options.timeFormat, options.timeZone)
      : null;
  if (occurredAt === null) return fail('occurred-at-invalid');

  if (isBlank(input.door)) return fail('door-missing');
  const doorCode = boundedText(input.door, LIMITS.doorCode);
  if (doorCode === null) return fail('door-unknown');

  if (isBlank(input.tag)) return fail('tag-missing');
  const tagCode = boundedText(input.tag, LIMITS.tag);
  if (tagCode === null) return fail('tag-invalid');

  if (isBlank(input.result)) return fail('result-missing');
  const result = normaliseResult(input.result, options.resultMap);
  if (result === null) return fail('result-invalid');

  return { ok: true, record: { sourceEventId, occurredAt, doorCode, tagCode, result, rawPayload } };
}

export function normaliseResult(value: unknown, map?: Record<string, EventResult>): EventResult | null {
  if (typeof value !== 'string') return null;
  // Our own words, as sent: no mapping can change them (mapped keys are the source's words).
  if (!map && (value === 'granted' || value === 'denied' || value === 'other')) return value;
  const key = value.trim().toLowerCase();
  const mapped = map?.[key];
  if (mapped) return mapped;
  return (EVENT_RESULTS as readonly string[]).includes(key) ? (key as EventResult) : null;
}

/**
 * The JSON records of an HTTP batch or MQTT message: objects with the five fields; the object is
 * the raw payload. `text` is the record's JSON as sent (see recordTexts); without it the parsed
 * object is serialised again.
 */
export function parseJsonRecord(value: unknown, text?: string | null): ParseOutcome {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, reason: 'record-invalid' };
  return parseRecord(value, ISO_OPTIONS, text ?? JSON.stringify(value));
}

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const isJsonSpace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

/** Index of the quote that closes the JSON string opened at `open`; -1 if there is none. */
function closingQuote(text: string, open: number): number {
  let from = open + 1;
  for (;;) {
    const at = text.indexOf('"', from);
    if (at < 0) return -1;
    let slashes = 0;
    while (text.charCodeAt(at - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return at;
    from = at + 1;
  }
}

/**
 * The text of each record as sent, kept as its raw payload: serialising every parsed record
 * again cost about a tenth of the CPU time of an HTTP batch (profile of the door-events bench).
 * `text` must be JSON that JSON.parse accepted (`count` is the parsed array's length, or 1 for a
 * single record). A record whose text holds whitespace outside its strings (pretty-printed) gets
 * null: the caller serialises it, so a record is measured (`record-too-large`) and kept compact
 * however it was sent. Null when the text does not split into `count` records.
 */
export function recordTexts(text: string, count: number): (string | null)[] | null {
  // One record without any whitespace (an MQTT message as controllers send it): the text itself.
  if (count === 1 && text.charCodeAt(0) === 123 /* { */ && !/\s/.test(text)) return [text];
  const texts: (string | null)[] = [];
  let at = 0;
  while (at < text.length && isJsonSpace(text.charCodeAt(at))) at++;
  const array = text.charCodeAt(at) === 91; /* [ */
  if (array) at++;
  let depth = 0;
  let start = -1;
  let end = -1;
  let spaced = false;
  for (; at < text.length; at++) {
    const c = text.charCodeAt(at);
    if (c === QUOTE) {
      if (start < 0) start = at;
      at = closingQuote(text, at);
      if (at < 0) return null;
      end = at + 1;
    } else if (isJsonSpace(c)) {
      if (depth > 0) spaced = true;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (start < 0) start = at;
      depth++;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      if (depth === 0) {
        if (!array || c !== 93) return null;
        if (start >= 0) texts.push(spaced ? null : text.slice(start, end));
        break;
      }
      depth--;
      end = at + 1;
    } else if (c === COMMA && depth === 0) {
      if (!array || start < 0) return null;
      texts.push(spaced ? null : text.slice(start, end));
      start = -1;
      spaced = false;
    } else {
      if (start < 0) start = at;
      end = at + 1;
    }
  }
  if (!array && start >= 0) texts.push(spaced ? null : text.slice(start, end));
  return texts.length === count ? texts : null;
}

/** Where a known door code may be used: its id and whether the source's scope covers it. */
export function resolveDoor(
  doorCode: string,
  doorIdsByCode: ReadonlyMap<string, string>,
  scope: ReadonlySet<string>,
): { ok: true; doorId: string } | { ok: false; reason: RejectionReason } {
  const doorId = doorIdsByCode.get(doorCode);
  if (doorId === undefined) return { ok: false, reason: 'door-unknown' };
  if (!scope.has(doorId)) return { ok: false, reason: 'door-out-of-scope' };
  return { ok: true, doorId };
}

export type Timing = 'ok' | 'late' | 'future';

/**
 * An event older than the policy's retention when it arrives must not be stored at all
 * (M 6.7: at most four weeks). `retentionMs` null means the policy sets no automatic erasure.
 */
export function classifyTiming(occurredAt: number, receivedAt: number, retentionMs: number | null): Timing {
  if (occurredAt > receivedAt + LIMITS.futureSkewMs) return 'future';
  if (retentionMs !== null && occurredAt <= receivedAt - retentionMs) return 'late';
  return 'ok';
}

// --- CSV --------------------------------------------------------------------------------------

const column = z.string().trim().min(1).max(100);

/** How a source's CSV export maps to our fields: header names of the columns. */
export const CsvMapping = z.strictObject({
  sourceEventId: column,
  occurredAt: column,
  door: column,
  tag: column,
  result: column,
  timeFormat: z.enum(TIME_FORMATS).default('iso-offset'),
  timeZone: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .refine(isValidTimeZone, { message: 'unknown time zone' })
    .default('Europe/Amsterdam'),
  delimiter: z.enum([',', ';', '\t']).default(','),
  resultMap: z
    .record(z.string().trim().toLowerCase().min(1).max(50), z.enum(EVENT_RESULTS))
    .refine((map) => Object.keys(map).length <= 50, { message: 'at most 50 result values' })
    .optional(),
});
export type CsvMappingInput = z.input<typeof CsvMapping>;
export type CsvMappingValue = z.output<typeof CsvMapping>;

export interface CsvRow {
  /** 1-based line on which the record starts (the header is line 1). */
  line: number;
  fields: string[];
  /** The record's text as it appeared, kept as the raw payload. */
  text: string;
  unterminated: boolean;
}

/**
 * RFC 4180 records: quoted fields may hold the delimiter, doubled quotes and line breaks;
 * CRLF or LF line ends; a leading byte-order mark is ignored; blank lines are skipped.
 */
export function parseCsv(input: string, delimiter = ','): CsvRow[] {
  const text = input.startsWith('\uFEFF') ? input.slice(1) : input;
  const rows: CsvRow[] = [];
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let startLine = 1;
  let start = 0;
  let i = 0;
  const endRow = (end: number, unterminated: boolean) => {
    fields.push(field);
    const raw = text.slice(start, end);
    if (!(fields.length === 1 && fields[0] === '' && !unterminated))
      rows.push({ line: startLine, fields, text: raw.replace(/\r$/, ''), unterminated });
    fields = [];
    field = '';
  };
  while (i < text.length) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        inQuotes = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      i++;
      continue;
    }
    if (ch === '"' && field === '') {
      inQuotes = true;
    } else if (ch === delimiter) {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || (ch === '\r' && text[i + 1] === '\n')) {
      const end = i;
      if (ch === '\r') i++;
      endRow(end, false);
      line++;
      startLine = line;
      start = i + 1;
    } else {
      field += ch;
    }
    i++;
  }
  if (inQuotes || field !== '' || fields.length > 0) endRow(text.length, inQuotes);
  return rows;
}

export type CsvRecordOutcome = { line: number; outcome: ParseOutcome };

export class CsvHeaderError extends Error {
  constructor(readonly missing: string[]) {
    super(`CSV header lacks column(s): ${missing.join(', ')}`);
  }
}

/** Applies a mapping to parsed CSV: the first row is the header; each later row becomes an outcome. */
export function mapCsv(rows: CsvRow[], mapping: CsvMappingValue): CsvRecordOutcome[] {
  const [header, ...data] = rows;
  if (!header) return [];
  const names = header.fields.map((name) => name.trim().toLowerCase());
  const wanted = {
    sourceEventId: mapping.sourceEventId,
    occurredAt: mapping.occurredAt,
    door: mapping.door,
    tag: mapping.tag,
    result: mapping.result,
  };
  const index: Record<string, number> = {};
  const missing: string[] = [];
  for (const [key, name] of Object.entries(wanted)) {
    const at = names.indexOf(name.toLowerCase());
    if (at < 0) missing.push(name);
    index[key] = at;
  }
  if (missing.length > 0) throw new CsvHeaderError(missing);
  const needed = Math.max(...Object.values(index)) + 1;
  const options: ParseOptions = {
    timeFormat: mapping.timeFormat,
    timeZone: mapping.timeZone,
    ...(mapping.resultMap ? { resultMap: mapping.resultMap } : {}),
  };
  return data.map((row) => {
    if (row.unterminated) return { line: row.line, outcome: { ok: false, reason: 'csv-quote-unterminated' } };
    if (row.fields.length < needed) return { line: row.line, outcome: { ok: false, reason: 'csv-field-count' } };
    const at = (key: string) => row.fields[index[key] ?? -1];
    const record: RawRecord = {
      sourceEventId: at('sourceEventId'),
      occurredAt: at('occurredAt'),
      door: at('door'),
      tag: at('tag'),
      result: at('result'),
    };
    return { line: row.line, outcome: parseRecord(record, options, row.text) };
  });
}
