/**
 * Kysely table types. Conventions that hold on both SQLite and PostgreSQL:
 * - times are UTC epoch milliseconds (`bigint` in PostgreSQL, read back as number);
 * - booleans are integers 0/1;
 * - structured values are JSON text, parsed in the repositories;
 * - ids are random UUID text.
 */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

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
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type CameraRow = Selectable<CamerasTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
// Generated is re-exported for migrations that add auto columns later.
export type { Generated };
