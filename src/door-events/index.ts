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
