import {
  canSeePersonalData,
  DATA_CATEGORIES,
  loadPolicy,
  PURPOSE_LABELS,
  retentionMs,
  type PolicyIssue,
} from '../policy/index.js';
import { HOUR } from '../lib/clock.js';
import type { CliOutput } from './output.js';

const formatIssue = (issue: PolicyIssue) =>
  `${issue.path || '(document)'}: ${issue.message}${issue.articles.length ? ` [${issue.articles.join(', ')}]` : ''} (${issue.code})`;

/** `protocam policy check <preset-or-file>`: exit 1 on errors; warnings are printed but do not fail. */
export function policyCheck(ref: string, io: CliOutput): number {
  let loaded;
  try {
    loaded = loadPolicy(ref);
  } catch (error) {
    const details = (error as { details?: { issues?: PolicyIssue[] } }).details;
    if (details?.issues) {
      io.err(`Policy ${ref} is invalid:`);
      for (const issue of details.issues) io.err(`  error   ${formatIssue(issue)}`);
    } else {
      io.err(`Policy ${ref}: ${(error as Error).message}`);
    }
    return 1;
  }
  for (const warning of loaded.warnings) io.out(`  warning ${formatIssue(warning)}`);
  io.out(`Policy ${loaded.policy.id} (${ref}) is valid: ${loaded.warnings.length} warning(s). sha256 ${loaded.hash}`);
  return 0;
}

function humanDuration(ms: number | null): string {
  if (ms === null) return 'no automatic erasure';
  const hours = ms / HOUR;
  // Short periods read as the protocols write them ("72 uur", W 6.3); long ones in days.
  return hours % 24 === 0 && hours >= 7 * 24 ? `${hours / 24} days` : `${hours} hours`;
}

/** `protocam policy show [--json]`: the policy in force, readable by a non-technical reader. */
export function policyShow(ref: string, json: boolean, io: CliOutput): number {
  const loaded = loadPolicy(ref);
  const { policy } = loaded;
  if (json) {
    io.out(JSON.stringify({ ref, hash: loaded.hash, warnings: loaded.warnings, policy }, null, 2));
    return 0;
  }
  io.out(`${policy.name} (${policy.id}, version ${policy.version})`);
  io.out(`sha256 ${loaded.hash}`);
  io.out('\nRetention:');
  for (const category of DATA_CATEGORIES) {
    const rule = policy.dataCategories[category];
    if (!rule) continue;
    io.out(`  ${category.padEnd(12)} ${humanDuration(retentionMs(policy, category))}  [${rule.articles.join(', ')}]`);
  }
  io.out('\nRoles:');
  for (const role of policy.roles) {
    io.out(`  ${role.id} — ${role.name.nl} / ${role.name.en}  [${role.articles.join(', ')}]`);
    for (const permission of role.permissions) {
      io.out(`    may: ${PURPOSE_LABELS[permission.purpose].en} on ${permission.categories.join(', ')}`);
    }
    if (role.capabilities.length) io.out(`    can: ${role.capabilities.join(', ')}`);
    if (canSeePersonalData(policy, [role.id])) io.out('    sees personal data: TOTP required');
  }
  if (loaded.warnings.length) {
    io.out('\nWarnings:');
    for (const warning of loaded.warnings) io.out(`  ${formatIssue(warning)}`);
  }
  return 0;
}
