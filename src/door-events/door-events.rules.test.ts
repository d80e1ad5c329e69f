import { describe, expect, it } from 'vitest';
import { DAY } from '../lib/clock.js';
import { loadPolicy, retentionMs } from '../policy/index.js';
import {
  classifyTiming,
  CsvHeaderError,
  CsvMapping,
  localToUtc,
  mapCsv,
  parseCsv,
  parseIsoWithOffset,
  parseJsonRecord,
  parseTime,
  recordTexts,
  resolveDoor,
} from './door-events.rules.js';
import { canApply, newHolderReference } from './key-tags.rules.js';

const good = { sourceEventId: 'e1', occurredAt: '2026-03-02T09:00:00Z', door: 'D1', tag: 'TAG-1', result: 'granted' };
const reason = (value: unknown) => {
  const outcome = parseJsonRecord(value);
  return outcome.ok ? 'ok' : outcome.reason;
};

describe('ISO-8601 times', () => {
  it('needs an explicit offset and converts to UTC', () => {
    expect(parseIsoWithOffset('2026-03-02T10:00:00+01:00')).toBe(Date.parse('2026-03-02T09:00:00Z'));
    expect(parseIsoWithOffset('2026-03-02T10:00:00.250Z')).toBe(Date.parse('2026-03-02T10:00:00.250Z'));
    expect(parseIsoWithOffset('2026-03-02T10:00-0230')).toBe(Date.parse('2026-03-02T12:30:00Z'));
    expect(parseIsoWithOffset('2026-03-02T10:00:00')).toBeNull();
    expect(parseIsoWithOffset('2026-02-30T10:00:00Z')).toBeNull();
    expect(parseIsoWithOffset('2026-03-02T24:00:00Z')).toBeNull();
    expect(parseIsoWithOffset('yesterday')).toBeNull();
  });

  it('reads the toISOString shape (the fast path) exactly as Date does, and refuses what is not a time', () => {
    for (const ms of [0, 951_782_400_000, 1_709_164_800_123, Date.parse('2026-03-29T01:59:59.999Z'), 4_102_444_799_999])
      expect(parseIsoWithOffset(new Date(ms).toISOString())).toBe(ms);
    expect(parseIsoWithOffset('2024-02-29T12:00:00.000Z')).toBe(Date.parse('2024-02-29T12:00:00Z'));
    expect(parseIsoWithOffset('2025-02-29T12:00:00.000Z')).toBeNull();
    expect(parseIsoWithOffset('2100-02-29T12:00:00.000Z')).toBeNull();
    expect(parseIsoWithOffset('2000-02-29T12:00:00.000Z')).toBe(Date.parse('2000-02-29T12:00:00Z'));
    expect(parseIsoWithOffset('2026-13-01T12:00:00.000Z')).toBeNull();
    expect(parseIsoWithOffset('2026-04-31T12:00:00.000Z')).toBeNull();
    expect(parseIsoWithOffset('2026-03-02T10:60:00.000Z')).toBeNull();
    expect(parseIsoWithOffset('2026-03-02T1a:00:00.000Z')).toBeNull();
    expect(parseIsoWithOffset('2026-03-02T10:00:00.0x0Z')).toBeNull();
    expect(parseIsoWithOffset('2026/03/02T10:00:00.000Z')).toBeNull();
  });
});

describe('Europe/Amsterdam local times', () => {
  const ams = (text: string) => new Date(parseTime(text, 'local-ymd', 'Europe/Amsterdam')!).toISOString();
  it('converts summer and winter time', () => {
    expect(ams('2025-07-01 12:00')).toBe('2025-07-01T10:00:00.000Z');
    expect(ams('2025-12-01 12:00:30')).toBe('2025-12-01T11:00:30.000Z');
  });
  it('handles the last Sunday of October (clocks go back at 03:00 CEST)', () => {
    expect(ams('2025-10-26 01:30')).toBe('2025-10-25T23:30:00.000Z');
    // 02:30 happens twice: the earlier instant (still CEST) is meant.
    expect(ams('2025-10-26 02:30')).toBe('2025-10-26T00:30:00.000Z');
    expect(ams('2025-10-26 03:30')).toBe('2025-10-26T02:30:00.000Z');
    expect(new Date(parseTime('26-10-2025 03:30', 'local-dmy', 'Europe/Amsterdam')!).toISOString()).toBe(
      '2025-10-26T02:30:00.000Z',
    );
  });
  it('moves a time in the spring gap forward', () => {
    expect(ams('2026-03-29 02:30')).toBe('2026-03-29T01:30:00.000Z'); // = 03:30 CEST
    expect(ams('2026-03-29 03:00')).toBe('2026-03-29T01:00:00.000Z');
  });
  it('localToUtc is the identity in UTC', () => {
    expect(localToUtc(Date.parse('2025-10-26T02:30:00Z'), 'UTC')).toBe(Date.parse('2025-10-26T02:30:00Z'));
  });
});

describe('record validation', () => {
  it('accepts a complete record and normalises the result', () => {
    const outcome = parseJsonRecord({ ...good, result: ' GRANTED ', extra: 1 });
    expect(outcome).toMatchObject({ ok: true, record: { result: 'granted', doorCode: 'D1', tagCode: 'TAG-1' } });
    expect(outcome.ok && JSON.parse(outcome.record.rawPayload!)).toMatchObject({ extra: 1 });
  });
  it('names the reason of a bad record', () => {
    expect(reason('x')).toBe('record-invalid');
    expect(reason([good])).toBe('record-invalid');
    expect(reason({ ...good, sourceEventId: undefined })).toBe('source-event-id-missing');
    expect(reason({ ...good, sourceEventId: { a: 1 } })).toBe('source-event-id-invalid');
    expect(reason({ ...good, sourceEventId: 42 })).toBe('ok');
    expect(reason({ ...good, occurredAt: '' })).toBe('occurred-at-missing');
    expect(reason({ ...good, occurredAt: '2026-03-02 09:00' })).toBe('occurred-at-invalid');
    expect(reason({ ...good, door: null })).toBe('door-missing');
    expect(reason({ ...good, tag: undefined })).toBe('tag-missing');
    expect(reason({ ...good, tag: 'x'.repeat(65) })).toBe('tag-invalid');
    expect(reason({ ...good, tag: 'a\u0000b' })).toBe('tag-invalid');
    expect(reason({ ...good, result: undefined })).toBe('result-missing');
    expect(reason({ ...good, result: 'opened' })).toBe('result-invalid');
    expect(reason({ ...good, pad: 'x'.repeat(5000) })).toBe('record-too-large');
  });
  it('keeps each record of a batch as sent, as its raw payload; pretty-printed records are serialised compactly', () => {
    const records = [{ a: 'x,]}"\\', b: [1, { c: null }] }, 'text', 12.5e3, { s: 'with space, and \\"quotes\\"' }, []];
    const compact = JSON.stringify(records);
    expect(recordTexts(compact, records.length)).toEqual(records.map((r) => JSON.stringify(r)));
    // Whitespace between records is not part of them; inside a record it makes that record null.
    const spaced = `\n [ {"a":1} ,\t{ "b": 2 },"x"\r\n]  `;
    expect(recordTexts(spaced, 3)).toEqual(['{"a":1}', null, '"x"']);
    expect(recordTexts('[]', 0)).toEqual([]);
    // One record (an MQTT message that is not an array).
    expect(recordTexts(' {"a":"[1,2]"} ', 1)).toEqual(['{"a":"[1,2]"}']);
    // A count that does not match gives nothing rather than misplaced texts.
    expect(recordTexts('[{"a":1},{"a":2}]', 3)).toBeNull();
    // The raw payload is the text as sent where there is one, the compact serialisation otherwise.
    const sent =
      '{"sourceEventId":"e-1","occurredAt":"2026-03-02T09:00:00.000Z","door":"D1","tag":"T\\u0041","result":"granted"}';
    const withText = parseJsonRecord(JSON.parse(sent), recordTexts(sent, 1)![0]);
    expect(withText.ok && withText.record.rawPayload).toBe(sent);
    const withoutText = parseJsonRecord(JSON.parse(sent), null);
    expect(withoutText.ok && withoutText.record.rawPayload).toBe(JSON.stringify(JSON.parse(sent)));
    const big = `{"sourceEventId":"e","pad":"${'x'.repeat(5000)}"}`;
    expect(parseJsonRecord(JSON.parse(big), recordTexts(big, 1)![0])).toEqual({
      ok: false,
      reason: 'record-too-large',
    });
  });
  it('resolves doors against the known codes and the source scope', () => {
    const doors = new Map([
      ['D1', 'door-1'],
      ['D2', 'door-2'],
    ]);
    const scope = new Set(['door-1']);
    expect(resolveDoor('D1', doors, scope)).toEqual({ ok: true, doorId: 'door-1' });
    expect(resolveDoor('D2', doors, scope)).toEqual({ ok: false, reason: 'door-out-of-scope' });
    expect(resolveDoor('D9', doors, scope)).toEqual({ ok: false, reason: 'door-unknown' });
  });
});

describe('late detection by the policy retention', () => {
  it('MaasWonen keeps door events four weeks (M 6.7): older at arrival is late', () => {
    const retention = retentionMs(loadPolicy('maaswonen-2024').policy, 'door-events');
    expect(retention).toBe(28 * DAY);
    const now = Date.parse('2026-03-30T10:00:00Z');
    expect(classifyTiming(now - 27 * DAY, now, retention)).toBe('ok');
    expect(classifyTiming(now - 28 * DAY, now, retention)).toBe('late');
    expect(classifyTiming(now - 28 * DAY + 1, now, retention)).toBe('ok');
    expect(classifyTiming(now + 60 * 60_000, now, retention)).toBe('future');
    expect(classifyTiming(now - 1000 * DAY, now, null)).toBe('ok');
  });
});

describe('CSV', () => {
  it('parses quotes, doubled quotes, delimiters and line breaks inside quotes, CRLF and a BOM', () => {
    const rows = parseCsv('\uFEFFa,b,c\r\n"x, y","he said ""hi""",z\r\n\r\n"multi\nline",2,3\n4,5,6');
    expect(rows.map((r) => r.fields)).toEqual([
      ['a', 'b', 'c'],
      ['x, y', 'he said "hi"', 'z'],
      ['multi\nline', '2', '3'],
      ['4', '5', '6'],
    ]);
    expect(rows.map((r) => r.line)).toEqual([1, 2, 4, 6]);
    expect(rows[1]!.text).toBe('"x, y","he said ""hi""",z');
  });
  it('flags an unterminated quote', () => {
    const rows = parseCsv('a,b\n1,"open');
    expect(rows[1]).toMatchObject({ unterminated: true, line: 2 });
  });

  const mapping = CsvMapping.parse({
    sourceEventId: 'Volgnr',
    occurredAt: 'Tijdstip',
    door: 'Deur',
    tag: 'Tag',
    result: 'Resultaat',
    timeFormat: 'local-dmy',
    delimiter: ';',
    resultMap: { TOEGANG: 'granted', GEWEIGERD: 'denied' },
  });

  it('maps columns by header name (any order, any case) and converts local times', () => {
    const text = [
      'Tag;Deur;tijdstip;Resultaat;Volgnr;Opmerking',
      'T1;D1;26-10-2025 02:30;Toegang;1;"Hal; oost"',
      'T2;D1;26-10-2025 03:30;geweigerd;2;',
      'T3;D1;bogus;Toegang;3;',
      'T4;D1',
    ].join('\n');
    const out = mapCsv(parseCsv(text, ';'), mapping);
    expect(out.map((o) => o.line)).toEqual([2, 3, 4, 5]);
    expect(out[0]!.outcome).toMatchObject({
      ok: true,
      record: { sourceEventId: '1', tagCode: 'T1', result: 'granted', occurredAt: Date.parse('2025-10-26T00:30:00Z') },
    });
    expect(out[1]!.outcome).toMatchObject({ ok: true, record: { result: 'denied' } });
    expect(out[2]!.outcome).toEqual({ ok: false, reason: 'occurred-at-invalid' });
    expect(out[3]!.outcome).toEqual({ ok: false, reason: 'csv-field-count' });
  });
  it('refuses a header without a mapped column', () => {
    expect(() => mapCsv(parseCsv('Tag;Deur\nT1;D1', ';'), mapping)).toThrow(CsvHeaderError);
  });
  it('validates the mapping (time zone, unknown keys)', () => {
    const base = { sourceEventId: 'a', occurredAt: 'b', door: 'c', tag: 'd', result: 'e' };
    expect(CsvMapping.parse(base)).toMatchObject({
      timeFormat: 'iso-offset',
      timeZone: 'Europe/Amsterdam',
      delimiter: ',',
    });
    expect(CsvMapping.safeParse({ ...base, timeZone: 'Mars/Olympus' }).success).toBe(false);
    expect(CsvMapping.safeParse({ ...base, extra: 1 }).success).toBe(false);
  });
});

describe('key-tag rules', () => {
  it('allows only the life-cycle transitions', () => {
    expect(canApply('issued', 'block')).toBe(true);
    expect(canApply('issued', 'reissue')).toBe(false);
    expect(canApply('blocked', 'reissue')).toBe(true);
    expect(canApply('returned', 'block')).toBe(false);
  });
  it('makes short random holder references', () => {
    expect(newHolderReference(Buffer.from([0, 0, 0, 0, 0]))).toBe('H-00000000');
    expect(newHolderReference()).toMatch(/^H-[0-9A-HJKMNP-TV-Z]{8}$/);
  });
});
