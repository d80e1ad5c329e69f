/** Public API of the registry: complexes, buildings, entrances, areas, cameras and doors. */
export { registryRoutes } from './registry.routes.js';
export {
  RegistryService,
  redactStreamUrl,
  type AreaView,
  type BuildingView,
  type CameraView,
  type ComplexView,
  type ComplianceReport,
  type DoorView,
  type EntranceView,
  type OrganisationView,
  type RegistryDeps,
  type StreamSecrets,
} from './registry.service.js';
export {
  activationRefusals,
  complianceFindings,
  FINDING_CODES,
  HIDDEN_CAMERA_ENDING_NOTICE_DAYS,
  REFUSAL_CODES,
  type CameraFacts,
  type ComplexFacts,
  type Finding,
  type FindingCode,
  type Placement,
  type Refusal,
  type RefusalCode,
} from './registry.rules.js';
export { AREA_TYPES, CAMERA_KINDS, CAMERA_STATUSES, OWNERSHIPS } from './registry.schemas.js';
