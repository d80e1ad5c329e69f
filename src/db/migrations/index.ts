import type { Migration } from 'kysely';
import * as m0001 from './0001_foundation.js';

/** All migrations, in order. Static imports so they work from `src/` (tests) and `dist/` alike. */
export const migrations: Record<string, Migration> = {
  '0001_foundation': m0001,
};
