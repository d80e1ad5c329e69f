import type { Migration } from 'kysely';
import * as m0001 from './0001_foundation.js';
import * as m0002access from './0002_access.js';
import * as m0003doorEvents from './0003_door_events.js';
import * as m0004recordings from './0004_recordings.js';
import * as m0005retention from './0005_retention.js';
import * as m0006logbookChain from './0006_logbook_chain.js';
import * as m0007doorEventsKeys from './0007_door_events_keys.js';
import * as m0008recordingExtra from './0008_recording_extra.js';
import * as m0009logbookSpeed from './0009_logbook_speed.js';
import * as m0010doorEventsSpeed from './0010_door_events_speed.js';
import * as m0011recordingSpeed from './0011_recording_speed.js';
import * as m0012doorEventPartitions from './0012_door_event_partitions.js';
import * as m0013segmentBucketsPerStatement from './0013_segment_buckets_per_statement.js';

/** All migrations, in order. Static imports so they work from `src/` (tests) and `dist/` alike. */
export const migrations: Record<string, Migration> = {
  '0001_foundation': m0001,
  '0002_access': m0002access,
  '0003_door_events': m0003doorEvents,
  '0004_recordings': m0004recordings,
  '0005_retention': m0005retention,
  '0006_logbook_chain': m0006logbookChain,
  '0007_door_events_keys': m0007doorEventsKeys,
  '0008_recording_extra': m0008recordingExtra,
  '0009_logbook_speed': m0009logbookSpeed,
  '0010_door_events_speed': m0010doorEventsSpeed,
  '0011_recording_speed': m0011recordingSpeed,
  '0012_door_event_partitions': m0012doorEventPartitions,
  '0013_segment_buckets_per_statement': m0013segmentBucketsPerStatement,
};
