import { describe, expect, it } from 'vitest';
import { PURPOSE_SCOPE } from '../policy/index.js';
import {
  compareFiles,
  concatScript,
  cutStart,
  EXPORT_FILE_NAME,
  EXPORT_PURPOSES,
  gapsBetween,
  keyframeAtOrBefore,
  planCut,
} from './exports.rules.js';

const seg = (i: number, offset = 0) => ({
  id: `s${i}`,
  startAt: offset + i * 10_000,
  endAt: offset + (i + 1) * 10_000,
  sha256: 'x',
});

describe('export rules', () => {
  it('exports only for copies: subject access (M 4), disclosure (M 5), incident handling (M 6.3)', () => {
    expect([...EXPORT_PURPOSES].sort()).toEqual(['disclosure', 'incident-handling', 'subject-access']);
    expect(EXPORT_PURPOSES).not.toContain('incident-assessment'); // M 3.5: viewing only
    expect(EXPORT_PURPOSES).not.toContain('technical-check'); // M 6.5: technical reasons only
    for (const purpose of EXPORT_PURPOSES) expect(PURPOSE_SCOPE[purpose].categories).toContain('footage');
  });

  it('plans in/out points on the first and last segment only, when the window cuts into them', () => {
    expect(
      planCut([seg(0), seg(1), seg(2)], 2_500, 27_000).map((e) => [e.segment.id, e.inSeconds, e.outSeconds]),
    ).toEqual([
      ['s0', 2.5, undefined],
      ['s1', undefined, undefined],
      ['s2', undefined, 7],
    ]);
    expect(planCut([seg(1)], 12_000, 15_000).map((e) => [e.inSeconds, e.outSeconds])).toEqual([[2, 5]]);
    expect(planCut([seg(0)], -5_000, 20_000).map((e) => [e.inSeconds, e.outSeconds])).toEqual([[undefined, undefined]]);
  });

  it('starts on the keyframe before, unless the grant does not reach back that far', () => {
    const keys = [1.4, 2.4, 3.4, 4.4];
    expect(keyframeAtOrBefore(keys, 3.9)).toBe(3.4);
    expect(keyframeAtOrBefore(keys, 1.0)).toBe(1.4);
    expect(cutStart(keys, 3.9, 0)).toBe(3.4);
    expect(cutStart(keys, 3.9, 3.9)).toBe(4.4);
    expect(cutStart(keys, 3.4, 3.4)).toBe(3.4);
  });

  it('reports gaps between runs', () => {
    expect(gapsBetween([seg(0), seg(1), seg(3)])).toEqual([{ from: 20_000, to: 30_000 }]);
  });

  it('writes an ffconcat script with quoted paths', () => {
    expect(
      concatScript([
        { path: "/d/it's.ts", inpoint: 3.4 },
        { path: '/d/b.ts', outpoint: 8 },
      ]),
    ).toBe("ffconcat version 1.0\nfile '/d/it'\\''s.ts'\ninpoint 3.400000\nfile '/d/b.ts'\noutpoint 8.000000\n");
  });

  it('compares files with the manifest: changed, missing, unexpected; manifest and signature are not files of it', () => {
    const listed = [
      { name: 'camera-a.mp4', bytes: 3, sha256: 'aa' },
      { name: 'camera-b.mp4', bytes: 3, sha256: 'bb' },
    ];
    expect(compareFiles(listed, [...listed, { name: 'manifest.json', bytes: 1, sha256: 'm' }])).toEqual([]);
    expect(
      compareFiles(listed, [
        { name: 'camera-a.mp4', bytes: 3, sha256: 'ab' },
        { name: 'x.txt', bytes: 1, sha256: 'x' },
      ]),
    ).toEqual([
      'changed: camera-a.mp4 (sha256 ab, 3 bytes; manifest says aa, 3 bytes)',
      'missing: camera-b.mp4',
      'unexpected file: x.txt',
    ]);
  });

  it('downloads name only files Protocam writes', () => {
    expect(EXPORT_FILE_NAME.test('camera-0b6f7c1e-1d2b-4c1e-9a7e-2f1e0c9d8b7a.mp4')).toBe(true);
    expect(EXPORT_FILE_NAME.test('manifest.sig')).toBe(true);
    for (const bad of ['../secrets.json', 'camera-a/../../x.mp4', 'manifest.json.bak', '.work']) {
      expect(EXPORT_FILE_NAME.test(bad)).toBe(false);
    }
  });
});
