import { describe, expect, it } from 'vitest';
import {
  closedSegments,
  parseSegmentName,
  runStamp,
  segmentRecordingArgs,
  type SegmentFile,
} from './segment-recorder.js';

const at = Date.parse('2026-01-05T09:00:00.123Z');

function file(run: string, index: number): SegmentFile {
  const name = `${run}-${String(index).padStart(6, '0')}.ts`;
  return { ...parseSegmentName(name)!, name, path: `/d/${name}` };
}

describe('segment recorder', () => {
  it('names segments by UTC run start to the millisecond and muxer index', () => {
    expect(runStamp(at)).toBe('20260105T090000123Z');
    expect(parseSegmentName('20260105T090000123Z-000042.ts')).toEqual({
      run: '20260105T090000123Z',
      runStartedAt: at,
      index: 42,
    });
    expect(parseSegmentName('notes.txt')).toBeUndefined();
  });

  it('copies the video stream into MPEG-TS segments without decoding', () => {
    const args = segmentRecordingArgs({
      inputArgs: ['-i', 'in'],
      directory: '/data/cam1',
      segmentSeconds: 10,
      runStartedAt: at,
    });
    const joined = args.join(' ');
    expect(joined).toContain(
      '-map 0:v:0 -an -c copy -f segment -segment_format mpegts -segment_time 10 -reset_timestamps 1',
    );
    expect(args.at(-1)).toBe('/data/cam1/20260105T090000123Z-%06d.ts');
    expect(args).not.toContain('libx264');
  });

  it('treats every segment but the newest of the running run as closed', () => {
    const older = [file('20260105T085000000Z', 0), file('20260105T085000000Z', 1)];
    const current = [file('20260105T090000123Z', 0), file('20260105T090000123Z', 1)];
    const all = [...older, ...current];
    expect(closedSegments(all, '20260105T090000123Z').map((f) => f.name)).toEqual(
      [...older, current[0]!].map((f) => f.name),
    );
    expect(closedSegments(all, undefined)).toHaveLength(4);
    expect(closedSegments(older, '20260105T090000123Z')).toHaveLength(2);
  });
});
