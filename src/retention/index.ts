/** Public API of the retention sweeper, alarms and the compliance view (issue 6). */
export {
  DiskGuard,
  RetentionSweeper,
  storageDirs,
  type SweepPlan,
  type SweepResult,
  type SweeperDeps,
} from './sweeper.js';
export { RetentionService, proposedPolicy, type RetentionChange } from './retention.service.js';
export { ComplianceService } from './compliance.service.js';
export { retentionRoutes } from './retention.routes.js';
export { statfsFreeSpace, nodeFileStore, type FreeSpace, type FileStore } from './storage.js';
