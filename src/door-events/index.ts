/** Public API of key tags and door events: sources, API keys, ingest (HTTP, CSV), tags and holders. */
export { doorEventRoutes, type DoorEventRouteOptions } from './door-events.routes.js';
export {
  DEFAULT_MAX_BATCH,
  DoorEventService,
  hashApiKey,
  requireKeyTags,
  type ApiKeyView,
  type BatchResult,
  type CsvImportResult,
  type DoorEventDeps,
  type Rejection,
  type RejectionCountView,
  type SourceView,
} from './door-events.service.js';
export {
  CsvMapping,
  EVENT_RESULTS,
  REJECTION_REASONS,
  SOURCE_KINDS,
  TIME_FORMATS,
  type CsvMappingInput,
  type EventResult,
  type RejectionReason,
  type SourceKind,
} from './door-events.rules.js';
export { HOLDER_KINDS, type HolderKind } from './door-events.schemas.js';
export { keyTagRoutes } from './key-tags.routes.js';
export { KeyTagService, type HolderView, type KeyTagDeps, type TagView } from './key-tags.service.js';
export { TAG_STATUSES, type TagStatus } from './key-tags.rules.js';
export {
  DoorEventQueryService,
  MAX_WITNESS_DOORS,
  subjectCopyToCsv,
  TAG_CHECK_LIMIT,
  type DoorEventQueryDeps,
  type EventView,
  type SubjectCopyInput,
  type SubjectCopyResult,
  type TagCheckInput,
  type TagCheckResult,
  type WitnessSearchInput,
  type WitnessSearchResult,
  type WitnessView,
} from './door-events.queries.js';
export { doorEventQueryRoutes } from './door-events.queries.routes.js';
export { MqttDoorEventIngest, recordsOf, type MqttIngestOptions, type MqttIngestStats } from './door-events.mqtt.js';
