/** Public API of the access gate and the logbook (issue 3). */
import { GateService, type AccessDeps } from './gate.service.js';
import { LogbookService } from './logbook.service.js';

export { accessRoutes, type AccessRoutesDeps } from './access.routes.js';
export { requireGrant, grantToken, type GrantValidator } from './grant.guard.js';
export {
  GateService,
  GRANT_HEADER,
  hashToken,
  type AccessDeps,
  type AccessInput,
  type AccessOutcome,
  type AccessRequestView,
  type GrantView,
  type IssuedGrant,
  type PendingAccess,
} from './gate.service.js';
export {
  CHAIN_SIGN_INTERVAL_MS,
  entriesToCsv,
  exportLogbookCsv,
  LogbookService,
  verifyLogbook,
  VERIFY_STRATEGIES,
  type EntryView,
  type LogbookFilter,
  type LogbookVerifyResult,
  type VerifyStrategy,
} from './logbook.service.js';
export {
  APPROVAL_CLAIM_WINDOW_MS,
  decideAccess,
  GRANT_TTL_MS,
  grantNeedProblem,
  REFUSAL_REASONS,
  type GrantNeed,
  type RefusalReason,
  type Scope,
} from './access.rules.js';
export { LOGBOOK_KINDS, logbookHashBody, fastLogbookHash } from './logbook.rules.js';

/** The service factory: the gate and the logbook over the same narrow dependencies. */
export function createAccessServices(deps: AccessDeps): { gate: GateService; logbook: LogbookService } {
  return { gate: new GateService(deps), logbook: new LogbookService(deps) };
}
