/** Public API of the recorder (issue 4). Playback, export and retention use these. */
export { MaintenanceService, type CameraHealthView, type CheckRunSummary } from './maintenance.service.js';
export { RecorderManager, type RecorderDeps, type RecorderOptions, type RecorderStatus } from './recorder.manager.js';
export {
  finishInterruptedErasures,
  reconcileRecordings,
  type ReconcileDeps,
  type ReconcileOptions,
  type ReconcileReport,
} from './reconcile.js';
export {
  deleteSegments,
  findSegment,
  latestSegment,
  listErasingSegments,
  listLatestSegments,
  listSegments,
  type SegmentRecord,
} from './recording.repository.js';
export { mayRecord } from './recording.rules.js';
export { recordingRoutes } from './recording.routes.js';
export { recordingsDirectory, resolveSegmentPath, sealFile } from './segment-files.js';
