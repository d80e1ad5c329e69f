/** Built-in presets by name. Each is validated by checkPolicy when loaded. */
import type { PolicyInput } from '../policy.schema.js';
import { maaswonen2024 } from './maaswonen-2024.js';
import { wooninvest2021 } from './wooninvest-2021.js';

export const PRESETS: Readonly<Record<string, PolicyInput>> = {
  'wooninvest-2021': wooninvest2021,
  'maaswonen-2024': maaswonen2024,
};
