/**
 * Kysely table types. Conventions that hold on both SQLite and PostgreSQL:
 * - times are UTC epoch milliseconds (`bigint` in PostgreSQL, read back as number);
 * - booleans are integers 0/1;
 * - structured values are JSON text, parsed in the repositories;
 * - ids are random UUID text.
 */
import type { Generated, GeneratedAlways, Insertable, Selectable, Updateable } from 'kysely';

export type Flag = 0 | 1;

export interface InstallationTable {
  key: string;
  value: string;
}

export interface PolicyVersionsTable {
  id: string;
  ref: string;
  hash: string;
  document: string;
  loaded_at: number;
}

/** Hash-chain heads: one row per chain (`audit`, later `logbook`); appends lock this row. */
export interface ChainHeadsTable {
  chain: string;
  seq: number;
  hash: string;
}

/** The system audit trail: append-only, hash-chained (see src/audit). */
export interface AuditEventsTable {
  seq: number;
  id: string;
  occurred_at: number;
  actor_id: string | null;
  actor_label: string;
  action: string;
  target_type: string;
  target_id: string | null;
  outcome: string;
  before: string | null;
  after: string | null;
  context: string | null;
  prev_hash: string;
  hash: string;
}

export interface UsersTable {
  id: string;
  username: string;
  display_name: string;
  email: string | null;
  roles: string;
  language: string;
  status: string;
  password_hash: string | null;
  totp_secret_enc: string | null;
  totp_enabled: Flag;
  failed_sign_ins: number;
  locked_until: number | null;
  one_time_token_hash: string | null;
  one_time_token_expires_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface SessionsTable {
  id: string;
  token_hash: string;
  user_id: string;
  csrf_token: string;
  second_factor_done: Flag;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

export interface OrganisationsTable {
  id: string;
  name: string;
  created_at: number;
  updated_at: number;
}

export interface ComplexesTable {
  id: string;
  organisation_id: string;
  code: string | null;
  name: string;
  address: string | null;
  /** `corporation`, `vve`, `commercial`, `social`: only `corporation` is the corporation's responsibility (W intro). */
  ownership: string;
  created_at: number;
  updated_at: number;
}

export interface BuildingsTable {
  id: string;
  complex_id: string;
  name: string;
  address: string | null;
  created_at: number;
  updated_at: number;
}

export interface EntrancesTable {
  id: string;
  building_id: string;
  name: string;
  is_general_entrance: Flag;
  sign_present: Flag;
  created_at: number;
  updated_at: number;
}

export interface AreasTable {
  id: string;
  building_id: string;
  name: string;
  area_type: string;
  outdoor: Flag;
  created_at: number;
  updated_at: number;
}

export interface CamerasTable {
  id: string;
  building_id: string;
  area_id: string | null;
  entrance_id: string | null;
  name: string;
  location: string | null;
  kind: string;
  goals: string;
  placement: string;
  stream_url_enc: string | null;
  credentials_enc: string | null;
  connection_secured: Flag;
  hidden_suspicion: string | null;
  hidden_dpia_reference: string | null;
  hidden_end_date: number | null;
  status: string;
  activated_at: number | null;
  activated_by: string | null;
  created_at: number;
  updated_at: number;
}

export interface DoorsTable {
  id: string;
  building_id: string;
  entrance_id: string | null;
  name: string;
  code: string;
  location: string | null;
  created_at: number;
  updated_at: number;
}

export interface Database {
  installation: InstallationTable;
  policy_versions: PolicyVersionsTable;
  chain_heads: ChainHeadsTable;
  audit_events: AuditEventsTable;
  users: UsersTable;
  sessions: SessionsTable;
  organisations: OrganisationsTable;
  complexes: ComplexesTable;
  buildings: BuildingsTable;
  entrances: EntrancesTable;
  areas: AreasTable;
  cameras: CamerasTable;
  doors: DoorsTable;
  // access gate and logbook (0002_access)
  incidents: IncidentsTable;
  subject_requests: SubjectRequestsTable;
  disclosures: DisclosuresTable;
  access_requests: AccessRequestsTable;
  grants: GrantsTable;
  logbook_records: LogbookRecordsTable;
  chain_signatures: ChainSignaturesTable;
  // key tags and door events (0003_door_events)
  door_event_sources: DoorEventSourcesTable;
  door_event_api_keys: DoorEventApiKeysTable;
  /** The shape of every hourly partition `door_events_h<hour>` (0012); no table has this name. */
  door_events: DoorEventsTable;
  door_event_partitions: DoorEventPartitionsTable;
  door_event_rejections: DoorEventRejectionsTable;
  tag_holders: TagHoldersTable;
  key_tags: KeyTagsTable;
  key_tag_assignments: KeyTagAssignmentsTable;
  // recorder (0004_recordings, src/recording, src/playback, src/exports)
  segments: SegmentsTable;
  segment_buckets: SegmentBucketsTable;
  camera_health: CameraHealthTable;
  maintenance_checks: MaintenanceChecksTable;
  camera_defects: CameraDefectsTable;
  exports: ExportsTable;
  // incidents, holds, retention (0005_retention, src/incidents, src/retention)
  incident_history: IncidentHistoryTable;
  holds: HoldsTable;
  erasure_records: ErasureRecordsTable;
  sweep_runs: SweepRunsTable;
  alarms: AlarmsTable;
  retention_locks: RetentionLocksTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type CameraRow = Selectable<CamerasTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
// Generated is re-exported for migrations that add auto columns later.
export type { Generated };

// --- access gate and logbook (0002_access, src/access) ----------------------------------------

/** Minimal incident (the incidents issue extends it): the gate checks kind and status. */
export interface IncidentsTable {
  id: string;
  /** damage | nuisance | vandalism | pollution | crime | calamity | other */
  kind: string;
  title: string;
  description: string;
  occurred_at: number;
  complex_id: string | null;
  /** open | handled | closed */
  status: string;
  created_by: string;
  created_at: number;
  updated_at: number;
  // lifecycle (0005_retention, src/incidents)
  /** tenant | visitor | third-party | emergency-services | police | manager (W 2.4) */
  reporter_kind: string | null;
  reporter_note: string | null;
  assessed_by: string | null;
  /** JSON arrays */
  camera_ids: Generated<string>;
  door_ids: Generated<string>;
  /** resolved | no-further-action | settled | irrevocable-judgment (M 6.6) */
  outcome: string | null;
  outcome_date: number | null;
  outcome_note: string | null;
  handled_at: number | null;
  handled_by: string | null;
  closed_at: number | null;
  closed_by: string | null;
  reopen_count: Generated<number>;
}

/** Minimal data-subject request (M 4); the requests issue adds the rest. */
export interface SubjectRequestsTable {
  id: string;
  status: string;
  /** The subject's own tag when the request covers key-tag data (M 4). */
  subject_tag: string | null;
  created_at: number;
  updated_at: number;
}

/** Minimal disclosure to a third party (M 5, W 5); the disclosures issue adds the rest. */
export interface DisclosuresTable {
  id: string;
  status: string;
  recipient_kind: string;
  incident_id: string | null;
  created_at: number;
  updated_at: number;
}

/** A request waiting for a second pair of eyes (policy `fourEyes`). */
export interface AccessRequestsTable {
  id: string;
  requester_id: string;
  requester_label: string;
  requester_roles: string;
  purpose: string;
  category: string;
  scope: string;
  window_from: number;
  window_to: number;
  reason: string;
  incident_id: string | null;
  request_id: string | null;
  disclosure_id: string | null;
  /** pending | approved | rejected | refused | claimed */
  status: string;
  decided_by: string | null;
  decided_at: number | null;
  decision_entry_id: string | null;
  grant_id: string | null;
  created_at: number;
  updated_at: number;
}

/** A short-lived grant issued by the gate; only the SHA-256 of its token is stored. */
export interface GrantsTable {
  id: string;
  token_hash: string;
  user_id: string;
  purpose: string;
  category: string;
  scope: string;
  window_from: number;
  window_to: number;
  incident_id: string | null;
  request_id: string | null;
  disclosure_id: string | null;
  access_request_id: string | null;
  entry_id: string;
  issued_at: number;
  expires_at: number;
}

/**
 * The logbook (M 6.4): append-only, hash-chained records (0006_logbook_chain). `body` is the
 * canonical JSON the hash covers (hash = SHA-256 of prev_hash, "\n", body); every other
 * column is generated from `body` by the database, so it cannot be edited apart from it.
 */
export interface LogbookRecordsTable {
  seq: number;
  prev_hash: string;
  body: string;
  hash: string;
  id: GeneratedAlways<string>;
  /** consultation | refusal | approval | finding | signature */
  kind: GeneratedAlways<string>;
  occurred_at: GeneratedAlways<number>;
  user_id: GeneratedAlways<string>;
  user_label: GeneratedAlways<string>;
  roles: GeneratedAlways<string>;
  purpose: GeneratedAlways<string | null>;
  category: GeneratedAlways<string | null>;
  reason: GeneratedAlways<string | null>;
  scope: GeneratedAlways<string | null>;
  window_from: GeneratedAlways<number | null>;
  window_to: GeneratedAlways<number | null>;
  incident_id: GeneratedAlways<string | null>;
  request_id: GeneratedAlways<string | null>;
  disclosure_id: GeneratedAlways<string | null>;
  access_request_id: GeneratedAlways<string | null>;
  grant_id: GeneratedAlways<string | null>;
  entry_id: GeneratedAlways<string | null>;
  refusal_code: GeneratedAlways<string | null>;
  text: GeneratedAlways<string | null>;
}

/** Ed25519 signatures over a chain head (seq, hash), made periodically. */
export interface ChainSignaturesTable {
  id: string;
  chain: string;
  seq: number;
  hash: string;
  signature: string;
  signed_at: number;
}

export type LogbookRecordRow = Selectable<LogbookRecordsTable>;
export type GrantRow = Selectable<GrantsTable>;
export type AccessRequestRow = Selectable<AccessRequestsTable>;

// --- key tags and door events (0003_door_events, src/door-events) -----------------------------

/** A system that delivers door events (a controller, an export, a broker topic). */
export interface DoorEventSourcesTable {
  id: string;
  name: string;
  /** http | csv | mqtt */
  kind: string;
  /** JSON CsvMapping, or null */
  csv_mapping: string | null;
  /** JSON array of door ids this source may report on */
  door_scope: string;
  received: number;
  accepted: number;
  rejected: number;
  late: number;
  duplicate: number;
  created_at: number;
  updated_at: number;
}

/** Per-source API keys; only the SHA-256 of the key is stored. */
export interface DoorEventApiKeysTable {
  id: string;
  source_id: string;
  key_hash: string;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
}

/** A door opened (or refused) with a key tag (M 6.6): refers to the tag by code, never to a person. */
export interface DoorEventsTable {
  /** Integer in arrival order: per partition on SQLite (rowid), one sequence on PostgreSQL (0012). */
  id: Generated<number>;
  source_id: string;
  source_event_id: string;
  occurred_at: number;
  received_at: number;
  door_id: string;
  tag_code: string;
  /** granted | denied | other */
  result: string;
  raw_payload: string | null;
}

/** One row per hourly door-event partition (0012, src/door-events/partitions.ts). */
export interface DoorEventPartitionsTable {
  /** floor(occurred_at / 3,600,000): the partition holds [hour, hour + 1) hours since the epoch. */
  hour: number;
  /** live | erasing (retention marked it; its table is being dropped) */
  state: string;
  created_at: number;
  /** While erasing: the highest row id its erasure record counted; rows above came in later. */
  counted_to_id: number | null;
}

/** Rejected records counted per source and reason; no payloads. */
export interface DoorEventRejectionsTable {
  source_id: string;
  reason: string;
  count: number;
  last_seen_at: number;
}

/** The person holding tags; personal fields are encrypted (encryptText). */
export interface TagHoldersTable {
  id: string;
  /** tenant | household-member | staff | contractor */
  kind: string;
  reference: string;
  name_enc: string;
  address_enc: string | null;
  contact_enc: string | null;
  created_at: number;
  updated_at: number;
}

export interface KeyTagsTable {
  id: string;
  tag_code: string;
  /** issued | blocked | returned */
  status: string;
  holder_id: string | null;
  issued_at: number;
  /** When the holder was told about the registration (M 3.5, M 7). */
  notice_given_at: number;
  blocked_at: number | null;
  returned_at: number | null;
  created_at: number;
  updated_at: number;
}

/** Who held a tag when (a reissued tag keeps its earlier events with the earlier holder). */
export interface KeyTagAssignmentsTable {
  id: string;
  tag_id: string;
  holder_id: string;
  issued_at: number;
  notice_given_at: number;
  ended_at: number | null;
}

// --- recorder (0004_recordings) ------------------------------------------------------------------

/** One closed, synced segment file; `file` is relative to the recordings directory. */
export interface SegmentsTable {
  id: string;
  camera_id: string;
  file: string;
  start_at: number;
  end_at: number;
  bytes: number;
  sha256: string;
  created_at: number;
  /** Set while the file is being erased (mark, unlink, delete row). */
  erasing_at: number | null;
}

/** A change counter per camera and hour of segments (0011), kept by triggers on `segments`. */
export interface SegmentBucketsTable {
  camera_id: string;
  /** `start_at / 3600000`. */
  bucket: number;
  version: number;
}

export interface CameraHealthTable {
  camera_id: string;
  /** recording | reconnecting | down | stopped */
  state: string;
  since: number;
  last_segment_at: number | null;
  last_error: string | null;
  restarts: number;
  updated_at: number;
}

/** The maintenance log (W 6.6). */
export interface MaintenanceChecksTable {
  id: string;
  camera_id: string;
  checked_at: number;
  /** ok | failed */
  result: string;
  detail: string | null;
  /** A user id, or null for the periodic system check. */
  checked_by: string | null;
}

export interface CameraDefectsTable {
  id: string;
  camera_id: string;
  opened_at: number;
  reason: string;
  closed_at: number | null;
  closed_reason: string | null;
}

export interface ExportsTable {
  id: string;
  grant_id: string;
  entry_id: string;
  created_by: string;
  purpose: string;
  /** JSON array of camera ids. */
  camera_ids: string;
  window_from: number;
  window_to: number;
  incident_id: string | null;
  request_id: string | null;
  disclosure_id: string | null;
  /** running | done | failed */
  status: string;
  progress: number;
  directory: string;
  bytes: number;
  manifest_sha256: string | null;
  error: string | null;
  created_at: number;
  finished_at: number | null;
  erasing_at: number | null;
}

export type SegmentRow = Selectable<SegmentsTable>;
export type ExportRow = Selectable<ExportsTable>;

// --- incidents, holds, retention (0005_retention, src/incidents, src/retention) -----------------

/** One lifecycle step of an incident: registered | handled | closed | reopened. */
export interface IncidentHistoryTable {
  id: string;
  incident_id: string;
  seq: number;
  step: string;
  at: number;
  by_id: string | null;
  by_label: string;
  reason: string | null;
  outcome: string | null;
}

/** A hold (veiligstellen, W 2.4, M 2.4): time windows over cameras, doors or tags; not a copy. */
export interface HoldsTable {
  id: string;
  /** JSON arrays */
  camera_ids: string;
  door_ids: string;
  tags: string;
  window_from: number;
  window_to: number;
  complex_id: string | null;
  owner_id: string | null;
  owner_label: string;
  reason: string;
  /** incident | request | disclosure | police-order */
  link_type: string;
  link_id: string | null;
  link_ref: string | null;
  review_at: number;
  created_at: number;
  released_at: number | null;
  released_by: string | null;
  release_reason: string | null;
}

/** What a sweep erased per run, category, reason and camera/door/export; never the content. */
export interface ErasureRecordsTable {
  id: string;
  run_id: string;
  category: string;
  /** retention | disk-pressure */
  reason: string;
  /** camera | door | export */
  target_type: string;
  target_id: string;
  from_at: number;
  to_at: number;
  count: number;
  bytes: number;
  policy_id: string;
  retention_ms: number | null;
  created_at: number;
  updated_at: number;
}

export interface SweepRunsTable {
  id: string;
  started_at: number;
  finished_at: number | null;
  policy_id: string;
  summary: string | null;
  error: string | null;
}

export interface AlarmsTable {
  id: string;
  key: string;
  /** retention-overdue | disk-pressure | recording-stopped | category-undefined */
  kind: string;
  severity: string;
  complex_id: string | null;
  target_type: string | null;
  target_id: string | null;
  message: string;
  message_nl: string;
  details: string | null;
  raised_at: number;
  last_seen_at: number;
  cleared_at: number | null;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
}

export interface RetentionLocksTable {
  name: string;
  version: number;
}

export type HoldRow = Selectable<HoldsTable>;
export type IncidentRow = Selectable<IncidentsTable>;
export type AlarmRow = Selectable<AlarmsTable>;
export type ErasureRecordRow = Selectable<ErasureRecordsTable>;
