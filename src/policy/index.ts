/** Public API of the policy module: the protocol as data, and queries on it. */
export * from './policy.schema.js';
export {
  checkPolicy,
  formatPath,
  MIN_WORKING_DAYS_IN_ONE_MONTH,
  type PolicyCheck,
  type PolicyIssue,
} from './policy.check.js';
export { canonicalJson, listPresets, loadPolicy, policyHash, type LoadedPolicy } from './policy.load.js';
export {
  allowedRecipients,
  canSeePersonalData,
  categoriesOf,
  describeRole,
  hasCapability,
  isAllowed,
  maxLookbackMs,
  parseDuration,
  purposeRule,
  requiresFourEyes,
  retentionMs,
  roleIds,
  rolesAllowing,
  WEEK,
  type RoleDescription,
} from './policy.rules.js';
export { PRESETS } from './presets/index.js';
