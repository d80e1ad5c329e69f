/**
 * Turns a camera's stream address (from the registry's decryptStream) into ffmpeg input
 * arguments: RTSP over TCP with the credentials placed in the URL, or a local clip looped in
 * real time (`file:///abs/clip.ts`, the demo source). The result keeps the secrets apart so
 * that the supervisor can scrub them from everything it logs.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { fileLoopInputArgs, rtspInputArgs } from '../media/ffmpeg.js';

export interface StreamSecretsInput {
  streamUrl: string | null;
  credentials: { username: string; password: string } | null;
}

export type RecorderSource =
  | { kind: 'rtsp'; url: string; secrets: string[]; fingerprint: string }
  | { kind: 'file'; path: string; secrets: string[]; fingerprint: string };

export type SourceProblem = { problem: 'no-stream' | 'unsupported-scheme' | 'bad-url'; message: string };

const fingerprintOf = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The recorder's view of a stream address, or why it cannot record from it (never echoing the URL). */
export function recorderSource(stream: StreamSecretsInput): RecorderSource | SourceProblem {
  if (!stream.streamUrl) return { problem: 'no-stream', message: 'The camera has no stream address.' };
  let url: URL;
  try {
    url = new URL(stream.streamUrl);
  } catch {
    return { problem: 'bad-url', message: 'The stream address is not a valid URL.' };
  }
  const fingerprint = fingerprintOf(JSON.stringify([stream.streamUrl, stream.credentials]));
  if (url.protocol === 'file:') {
    return { kind: 'file', path: fileURLToPath(url), secrets: [], fingerprint };
  }
  if (url.protocol !== 'rtsp:' && url.protocol !== 'rtsps:') {
    return {
      problem: 'unsupported-scheme',
      message: `The recorder pulls rtsp, rtsps and file streams, not ${url.protocol.replace(':', '')}.`,
    };
  }
  const secrets: string[] = [];
  if (url.username) secrets.push(decodeURIComponent(url.username));
  if (url.password) secrets.push(decodeURIComponent(url.password));
  if (stream.credentials) {
    // The URL setters percent-encode what needs it.
    url.username = stream.credentials.username;
    url.password = stream.credentials.password;
    secrets.push(stream.credentials.username, stream.credentials.password);
  }
  // Very short values would shred ordinary text when scrubbed; URLs are redacted as a whole anyway.
  return { kind: 'rtsp', url: url.toString(), secrets: secrets.filter((s) => s.length >= 3), fingerprint };
}

export function isSourceProblem(value: RecorderSource | SourceProblem): value is SourceProblem {
  return 'problem' in value;
}

export function sourceInputArgs(source: RecorderSource, ffmpegMajor: number, timeoutSeconds: number): string[] {
  return source.kind === 'file'
    ? fileLoopInputArgs(source.path)
    : rtspInputArgs(source.url, ffmpegMajor, { timeoutSeconds });
}
