import { describe, expect, it } from 'vitest';
import { checkPolicy, loadPolicy, PRESETS } from '../policy/index.js';
import {
  isDiscontinuity,
  livePlaylist,
  liveViewPurposes,
  PLAYBACK_PURPOSES,
  timelineShiftTicks,
  vodPlaylist,
  type PlaylistSegment,
} from './playback.rules.js';
import { firstTimestamp, shiftTimestamps, trimToWindow } from './ts-timestamps.js';

const T = Date.parse('2026-03-02T09:00:00Z');
const seg = (i: number, run = '20260302T090000000Z', offset = 0): PlaylistSegment => ({
  id: `id-${i}`,
  file: `cam/${run}-${String(i).padStart(6, '0')}.ts`,
  startAt: T + offset + i * 10_000,
  endAt: T + offset + (i + 1) * 10_000,
});
const uri = (s: PlaylistSegment) => `segment/${s.id}.ts`;

describe('playlists', () => {
  it('VOD: version, target duration, EXTINF per segment, ENDLIST', () => {
    const text = vodPlaylist([seg(0), { ...seg(1), endAt: seg(1).endAt - 2_500 }], uri);
    expect(text.split('\n')).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      '#EXT-X-TARGETDURATION:10',
      '#EXT-X-PLAYLIST-TYPE:VOD',
      '#EXT-X-MEDIA-SEQUENCE:0',
      '#EXTINF:10.000,',
      'segment/id-0.ts',
      '#EXTINF:7.500,',
      'segment/id-1.ts',
      '#EXT-X-ENDLIST',
      '',
    ]);
  });

  it('marks a discontinuity at another recorder run and at a gap, not between adjacent segments', () => {
    expect(isDiscontinuity(seg(0), seg(1))).toBe(false);
    expect(isDiscontinuity(seg(0), seg(1, '20260302T090010000Z'))).toBe(true);
    expect(isDiscontinuity(seg(0), seg(2))).toBe(true);
    const text = vodPlaylist([seg(0), seg(1), seg(3, '20260302T090030000Z')], uri);
    expect(text.match(/#EXT-X-DISCONTINUITY\n#EXTINF:10.000,\nsegment\/id-3.ts/)).not.toBeNull();
  });

  it('live: no ENDLIST, media and discontinuity sequence numbers as given', () => {
    const text = livePlaylist([seg(4), seg(5)], uri, 4, 1);
    expect(text).toContain('#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n');
    expect(text).not.toContain('ENDLIST');
    expect(text).not.toContain('PLAYLIST-TYPE');
  });

  it('one timeline per grant: consecutive segments are exactly their wall-clock distance apart', () => {
    const a = timelineShiftTicks(T, T - 5_000, 126_000) + 126_000;
    const b = timelineShiftTicks(T + 10_000, T - 5_000, 126_000) + 126_000;
    expect(b - a).toBe(900_000);
  });
});

describe('purposes', () => {
  it('playback serves every purpose that can cover footage; none for key-tag data', () => {
    expect(PLAYBACK_PURPOSES).toEqual([
      'incident-assessment',
      'incident-handling',
      'technical-check',
      'subject-access',
      'disclosure',
    ]);
  });

  it('both presets allow live view for technical-check only (M 6.5, W 6.6), without checker warnings', () => {
    expect(liveViewPurposes(loadPolicy('maaswonen-2024').policy)).toEqual(['technical-check']);
    expect(liveViewPurposes(loadPolicy('wooninvest-2021').policy)).toEqual(['technical-check']);
    for (const preset of Object.values(PRESETS)) {
      expect(checkPolicy(preset).warnings.filter((w) => w.path.startsWith('liveView'))).toEqual([]);
    }
  });

  it('no liveView section: no live view; odd purposes are warnings (M 3.5)', () => {
    const { liveView: _omit, ...without } = loadPolicy('wooninvest-2021').policy;
    expect(liveViewPurposes(checkPolicy(without).policy!)).toEqual([]);
    const odd = {
      ...PRESETS['maaswonen-2024'],
      liveView: { purposes: ['incident-assessment', 'tag-function-check'], articles: [] },
    };
    const warnings = checkPolicy(odd).warnings.filter((w) => w.path.startsWith('liveView'));
    expect(warnings.map((w) => [w.path, w.code])).toEqual([
      ['liveView.purposes[0]', 'live-view-monitoring'],
      ['liveView.purposes[1]', 'live-view-purpose-without-footage'],
    ]);
  });
});

/** A 188-byte TS packet starting a PES with PTS (and DTS), optionally a PCR and a keyframe flag. */
function pesPacket(pid: number, pts: number, options: { dts?: number; pcr?: number; key?: boolean } = {}): Buffer {
  const p = Buffer.alloc(188, 0xff);
  p[0] = 0x47;
  p[1] = 0x40 | (pid >> 8);
  p[2] = pid & 0xff;
  let i = 4;
  if (options.pcr !== undefined || options.key) {
    p[3] = 0x30;
    p[4] = 7;
    p[5] = (options.pcr !== undefined ? 0x10 : 0) | (options.key ? 0x40 : 0);
    const base = options.pcr ?? 0;
    p[6] = Math.floor(base / 2 ** 25) & 0xff;
    p[7] = Math.floor(base / 2 ** 17) & 0xff;
    p[8] = Math.floor(base / 2 ** 9) & 0xff;
    p[9] = Math.floor(base / 2) & 0xff;
    p[10] = ((base % 2) << 7) | 0x7e;
    p[11] = 0;
    i = 12;
  } else p[3] = 0x10;
  const write = (at: number, prefix: number, v: number) => {
    p[at] = (prefix << 4) | ((Math.floor(v / 2 ** 30) & 7) << 1) | 1;
    p[at + 1] = (Math.floor(v / 2 ** 15) & 0x7fff) >> 7;
    p[at + 2] = ((Math.floor(v / 2 ** 15) & 0x7f) << 1) | 1;
    p[at + 3] = (v % 2 ** 15) >> 7;
    p[at + 4] = (((v % 2 ** 15) & 0x7f) << 1) | 1;
  };
  p.set([0, 0, 1, 0xe0, 0, 0, 0x80, options.dts !== undefined ? 0xc0 : 0x80, options.dts !== undefined ? 10 : 5], i);
  write(i + 9, options.dts !== undefined ? 3 : 2, pts);
  if (options.dts !== undefined) write(i + 14, 1, options.dts);
  return p;
}

describe('MPEG-TS timestamps', () => {
  it('shifts PTS, DTS and PCR by the same amount, wrapping at 2^33', () => {
    const ts = Buffer.concat([
      pesPacket(256, 126_000, { dts: 123_000, pcr: 120_000, key: true }),
      pesPacket(256, 132_000),
    ]);
    const moved = shiftTimestamps(ts, 900_000);
    expect(firstTimestamp(moved)).toBe(1_023_000);
    expect(firstTimestamp(moved.subarray(188))).toBe(1_032_000);
    const wrapped = shiftTimestamps(ts, 2 ** 33 - 123_000);
    expect(firstTimestamp(wrapped)).toBe(0);
    expect(shiftTimestamps(moved, -900_000).equals(ts)).toBe(true);
  });

  it('trims to a window from the keyframe at or before its start, keeping tables', () => {
    const pat = Buffer.alloc(188, 0xff);
    pat.set([0x47, 0x40, 0x00, 0x10, 0x00], 0);
    const frames = [0, 1, 2, 3, 4, 5].map((i) => pesPacket(256, 90_000 + i * 45_000, { key: i % 2 === 0 }));
    const trimmed = trimToWindow(Buffer.concat([pat, ...frames]), 90_000 + 3 * 45_000, 90_000 + 5 * 45_000);
    // The keyframe before the start is frame 2; frame 5 starts at the end and is left out.
    expect(trimmed.length).toBe(4 * 188);
    expect(trimmed.subarray(0, 188).equals(pat)).toBe(true);
    expect(firstTimestamp(trimmed)).toBe(90_000 + 2 * 45_000);
  });
});
