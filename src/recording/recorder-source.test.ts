import { describe, expect, it } from 'vitest';
import { parseStreamUrl } from '../registry/registry.schemas.js';
import { redactArgs } from '../media/redact.js';
import { isSourceProblem, recorderSource, sourceInputArgs } from './recorder-source.js';

describe('recorder sources', () => {
  it('places the registry credentials in the RTSP URL and keeps them as secrets to scrub', () => {
    const source = recorderSource({
      streamUrl: 'rtsp://cam1.local:554/stream1',
      credentials: { username: 'viewer', password: 'p@ss:w/rd' },
    });
    if (isSourceProblem(source)) throw new Error(source.message);
    expect(source.kind).toBe('rtsp');
    expect(source.secrets).toEqual(['viewer', 'p@ss:w/rd']);
    const args = sourceInputArgs(source, 5, 10);
    expect(args).toEqual(['-rtsp_transport', 'tcp', '-timeout', '10000000', '-i', expect.any(String)]);
    const url = new URL(args.at(-1)!);
    expect([decodeURIComponent(url.username), decodeURIComponent(url.password)]).toEqual(['viewer', 'p@ss:w/rd']);
    expect(redactArgs(args).join(' ')).not.toContain('viewer');
    // ffmpeg 4.x names the socket timeout differently.
    expect(sourceInputArgs(source, 4, 10)).toContain('-stimeout');
  });

  it('loops a local file in real time; refuses schemes it cannot record, without echoing the URL', () => {
    const file = recorderSource({ streamUrl: 'file:///srv/demo/clip.ts', credentials: null });
    if (isSourceProblem(file)) throw new Error(file.message);
    expect(sourceInputArgs(file, 4, 10)).toEqual(['-re', '-stream_loop', '-1', '-i', '/srv/demo/clip.ts']);
    const http = recorderSource({ streamUrl: 'https://user:secret@cam/mjpeg', credentials: null });
    expect(http).toMatchObject({ problem: 'unsupported-scheme' });
    expect(JSON.stringify(http)).not.toContain('secret');
    expect(recorderSource({ streamUrl: null, credentials: null })).toMatchObject({ problem: 'no-stream' });
    // A changed address or password means a restart: the fingerprint differs.
    const a = recorderSource({ streamUrl: 'rtsp://h/x', credentials: { username: 'u', password: 'one' } });
    const b = recorderSource({ streamUrl: 'rtsp://h/x', credentials: { username: 'u', password: 'two' } });
    if (isSourceProblem(a) || isSourceProblem(b)) throw new Error('expected sources');
    expect(a.fingerprint).not.toBe(b.fingerprint);
  });

  it('the registry accepts file:///absolute paths as stream addresses, but no remote file URLs', () => {
    expect(parseStreamUrl('file:///srv/demo/clip.ts')).not.toBeNull();
    expect(parseStreamUrl('file://server/share/clip.ts')).toBeNull();
    expect(parseStreamUrl('file:///')).toBeNull();
    expect(parseStreamUrl('ftp://cam/x')).toBeNull();
  });
});
