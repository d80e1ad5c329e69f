import type { z } from 'zod';
import { invalid } from './errors.js';

/**
 * Validates input inside a service, so callers that skip HTTP (the CLI, jobs) get the same
 * checks as the API: 400 `validation-failed`, with each problem naming its field.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    field: issue.path.join('.') || '(input)',
    message: issue.message,
  }));
  throw invalid('validation-failed', issues.map((i) => `${i.field}: ${i.message}`).join('; '), { issues });
}
