import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { invalid } from '../lib/errors.js';

/**
 * All configuration, parsed once at start-up. Every variable is documented here and in
 * README.md. Environment variables win over the optional config file
 * (PROTOCAM_CONFIG_FILE, YAML or JSON, same names without the PROTOCAM_ prefix in camelCase).
 */
const timeZone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'is not a known IANA time zone');

const port = z.coerce.number().int().min(0).max(65535);

const rawConfigSchema = z.strictObject({
  dataDir: z.string().min(1).default('./data'),
  databaseUrl: z
    .string()
    .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'must be sqlite:<path> or postgres://...')
    .optional(),
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(8080),
  policy: z.string().min(1).default('maaswonen-2024'),
  timeZone: timeZone.default('Europe/Amsterdam'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  publicUrl: z.url().optional(),
  sessionHours: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 14)
    .default(12),
  organisationName: z.string().min(1).max(200).default('Woningcorporatie'),
  trustProxy: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).default(false),
  mqttUrl: z
    .string()
    .regex(/^mqtts?:\/\/.+/, 'must be mqtt://host:port or mqtts://host:port')
    .optional(),
  mqttTopic: z.string().min(1).max(200).optional(),
  mqttSource: z.string().min(1).max(64).optional(),
  mqttUsername: z.string().min(1).max(200).optional(),
  mqttPassword: z.string().min(1).max(500).optional(),
  mqttCaFile: z.string().min(1).optional(),
  segmentSeconds: z.coerce.number().int().min(1).max(60).default(10),
  // Retention sweeper and disk pressure (issue 6).
  sweepInterval: z
    .union([
      z.number().int().positive(),
      z.string().regex(/^[1-9][0-9]*(ms|s|m|h)$/, 'must be a duration like 30s, 1m or 1h'),
    ])
    .default('1m')
    .transform((v) => (typeof v === 'number' ? v : sweepIntervalMs(v))),
  minFreeBytes: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(1024 ** 3),
  minFreePercent: z.coerce.number().min(0).max(90).default(5),
});

const INTERVAL_UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
function sweepIntervalMs(text: string): number {
  const [, amount, unit] = /^([0-9]+)(ms|s|m|h)$/.exec(text)!;
  return Number(amount) * INTERVAL_UNIT_MS[unit as keyof typeof INTERVAL_UNIT_MS];
}

export type Config = {
  dataDir: string;
  databaseUrl: string;
  host: string;
  port: number;
  policy: string;
  timeZone: string;
  logLevel: z.infer<typeof rawConfigSchema>['logLevel'];
  publicUrl: string | undefined;
  /** Cookies get the Secure flag when Protocam is reached over https. */
  secureCookies: boolean;
  sessionHours: number;
  organisationName: string;
  trustProxy: boolean;
  /** Target length of a recorded segment (issue 4); segments are cut at the next keyframe after it. */
  segmentSeconds: number;
  /** How often the retention sweeper runs, ms (PROTOCAM_SWEEP_INTERVAL, default 1m). */
  sweepInterval: number;
  /** Free space of the recordings directory below either threshold is disk pressure (issue 6). */
  minFreeBytes: number;
  minFreePercent: number;
  /** Door events from an MQTT broker (issue 5); absent when PROTOCAM_MQTT_URL is not set. */
  mqtt:
    | {
        url: string;
        topic: string;
        sourceId: string;
        username: string | undefined;
        password: string | undefined;
        caFile: string | undefined;
      }
    | undefined;
};

/** Environment variable names, by config key. */
export const ENV_NAMES: Record<keyof z.infer<typeof rawConfigSchema>, string> = {
  dataDir: 'PROTOCAM_DATA_DIR',
  databaseUrl: 'PROTOCAM_DATABASE_URL',
  host: 'PROTOCAM_HOST',
  port: 'PROTOCAM_PORT',
  policy: 'PROTOCAM_POLICY',
  timeZone: 'PROTOCAM_TIME_ZONE',
  logLevel: 'PROTOCAM_LOG_LEVEL',
  publicUrl: 'PROTOCAM_PUBLIC_URL',
  sessionHours: 'PROTOCAM_SESSION_HOURS',
  organisationName: 'PROTOCAM_ORGANISATION_NAME',
  trustProxy: 'PROTOCAM_TRUST_PROXY',
  mqttUrl: 'PROTOCAM_MQTT_URL',
  mqttTopic: 'PROTOCAM_MQTT_TOPIC',
  mqttSource: 'PROTOCAM_MQTT_SOURCE',
  mqttUsername: 'PROTOCAM_MQTT_USERNAME',
  mqttPassword: 'PROTOCAM_MQTT_PASSWORD',
  mqttCaFile: 'PROTOCAM_MQTT_CA_FILE',
  segmentSeconds: 'PROTOCAM_SEGMENT_SECONDS',
  sweepInterval: 'PROTOCAM_SWEEP_INTERVAL',
  minFreeBytes: 'PROTOCAM_MIN_FREE_BYTES',
  minFreePercent: 'PROTOCAM_MIN_FREE_PERCENT',
};

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw invalid('config-invalid', `PROTOCAM_CONFIG_FILE: cannot read ${path}`);
  }
  try {
    const parsed: unknown = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw invalid('config-invalid', `PROTOCAM_CONFIG_FILE: ${path} is not a YAML/JSON object (${String(error)})`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const input: Record<string, unknown> = env.PROTOCAM_CONFIG_FILE ? readConfigFile(env.PROTOCAM_CONFIG_FILE) : {};
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = rawConfigSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const name = ENV_NAMES[key as keyof typeof ENV_NAMES] ?? (key || 'config');
      return `${name}: ${issue.message}`;
    });
    throw invalid('config-invalid', `Invalid configuration:\n  ${lines.join('\n  ')}`, { issues: lines });
  }
  // The MQTT settings are gathered into one optional group (and kept out of the flat config).
  const { mqttUrl, mqttTopic, mqttSource, mqttUsername, mqttPassword, mqttCaFile, ...raw } = result.data;
  if (mqttUrl && (!mqttTopic || !mqttSource)) {
    const missing = [!mqttTopic && ENV_NAMES.mqttTopic, !mqttSource && ENV_NAMES.mqttSource].filter(Boolean);
    throw invalid(
      'config-invalid',
      `Invalid configuration:\n  ${missing.join(', ')}: required when PROTOCAM_MQTT_URL is set`,
    );
  }
  const dataDir = isAbsolute(raw.dataDir) ? raw.dataDir : resolve(cwd, raw.dataDir);
  return {
    ...raw,
    dataDir,
    databaseUrl: raw.databaseUrl ?? `sqlite:${join(dataDir, 'protocam.db')}`,
    publicUrl: raw.publicUrl,
    secureCookies: raw.publicUrl?.startsWith('https://') ?? false,
    mqtt:
      mqttUrl && mqttTopic && mqttSource
        ? {
            url: mqttUrl,
            topic: mqttTopic,
            sourceId: mqttSource,
            username: mqttUsername,
            password: mqttPassword,
            caFile: mqttCaFile,
          }
        : undefined,
  };
}
