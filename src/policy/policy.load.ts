/**
 * Loads a policy from a preset name or a YAML/JSON file, validates it and fingerprints it.
 * The only module in src/policy that does I/O.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { canonicalJson } from '../lib/canonical-json.js';
import { DomainError, invalid } from '../lib/errors.js';
import { checkPolicy, type PolicyIssue } from './policy.check.js';
import type { Policy } from './policy.schema.js';
import { PRESETS } from './presets/index.js';

export interface LoadedPolicy {
  policy: Policy;
  warnings: PolicyIssue[];
  source: 'preset' | 'file';
  ref: string;
  /** SHA-256 (hex) of the canonical JSON of the validated policy. */
  hash: string;
}

const FILE_EXTENSIONS = ['.yaml', '.yml', '.json'];

export function listPresets(): string[] {
  return Object.keys(PRESETS);
}

export { canonicalJson };

export function policyHash(policy: Policy): string {
  return createHash('sha256').update(canonicalJson(policy)).digest('hex');
}

function readDocument(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw invalid('policy-unreadable', `Cannot read policy file ${path}: ${(error as Error).message}`);
  }
  try {
    return extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw invalid('policy-unreadable', `Cannot parse policy file ${path}: ${(error as Error).message}`);
  }
}

/**
 * `ref` is a preset name (see listPresets) or a path ending in .yaml, .yml or .json.
 * Throws DomainError('invalid', 'policy-invalid') listing every error as `path: message`.
 */
export function loadPolicy(ref: string): LoadedPolicy {
  const preset = PRESETS[ref];
  let doc: unknown;
  let source: LoadedPolicy['source'];
  if (preset) {
    doc = structuredClone(preset);
    source = 'preset';
  } else if (FILE_EXTENSIONS.includes(extname(ref).toLowerCase())) {
    doc = readDocument(ref);
    source = 'file';
  } else {
    throw invalid(
      'policy-unknown',
      `Unknown policy "${ref}": use one of ${listPresets().join(', ')} or a .yaml/.yml/.json file`,
    );
  }
  const { policy, errors, warnings } = checkPolicy(doc);
  if (!policy || errors.length) {
    const lines = errors.map(
      (e) => `  ${e.path}: ${e.message}${e.articles.length ? ` (${e.articles.join(', ')})` : ''}`,
    );
    throw new DomainError('invalid', 'policy-invalid', `Policy ${ref} is invalid:\n${lines.join('\n')}`, {
      issues: errors,
    });
  }
  return { policy, warnings, source, ref, hash: policyHash(policy) };
}
