import { describe, expect, it } from 'vitest';
import { redactArgs, redactText, redactUrl, secretsInArgs } from './redact.js';

describe('redaction of credentials', () => {
  it('removes user and password from URLs anywhere in a text', () => {
    expect(redactUrl('rtsp://admin:hunter22@10.0.0.5:554/Streaming/Channels/101')).toBe(
      'rtsp://***@10.0.0.5:554/Streaming/Channels/101',
    );
    expect(redactUrl('[rtsp @ 0x1] rtsp://u:p@cam/x: 401 Unauthorized; also http://bob@h/')).toBe(
      '[rtsp @ 0x1] rtsp://***@cam/x: 401 Unauthorized; also http://***@h/',
    );
    expect(redactUrl('rtsp://us%40er:p@ss:w@rd@host/path')).toBe('rtsp://***@host/path');
    expect(redactUrl('rtsp://host:554/no-credentials')).toBe('rtsp://host:554/no-credentials');
  });

  it('redacts every argument and finds the secrets in them', () => {
    const args = ['-i', 'rtsp://alice:s3cr%40t@cam/1', '-c', 'copy'];
    expect(redactArgs(args)).toEqual(['-i', 'rtsp://***@cam/1', '-c', 'copy']);
    expect(secretsInArgs(args)).toEqual(expect.arrayContaining(['alice', 's3cr%40t', 's3cr@t']));
    expect(redactText('auth failed for alice with s3cr@t', secretsInArgs(args))).toBe('auth failed for *** with ***');
  });
});
