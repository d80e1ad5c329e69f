import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, DIALECTS } from '../../test/db.js';
import { principal, seedRegistry, type Seed } from '../../test/access-fixtures.js';
import { retentionServices } from '../../test/retention-fixtures.js';
import type { Db } from '../db/database.js';
import { DAY, HOUR, ManualClock, MINUTE } from '../lib/clock.js';
import { loadPolicy } from '../policy/index.js';
import { incidentFacts } from '../access/access.repository.js';
import type { HoldService } from '../holds/holds.service.js';
import type { IncidentService } from './incidents.service.js';

const mkw = principal('u-mkw', ['manager-klant-wonen']);
const technician = principal('u-tech', ['technisch-onderhoud']);
const admin = principal('u-admin', ['admin']);

describe.each(DIALECTS)('incidents and holds (%s)', (dialect) => {
  let db: Db;
  let clock: ManualClock;
  let seed: Seed;
  let incidents: IncidentService;
  let holds: HoldService;

  beforeEach(async () => {
    db = await createTestDb(dialect);
    clock = new ManualClock('2026-03-02T10:00:00Z');
    seed = await seedRegistry(db.kysely, clock.now());
    const policy = loadPolicy('maaswonen-2024').policy;
    ({ incidents, holds } = retentionServices(db.kysely, clock, () => policy, {
      recordingsDir: '/nonexistent',
      exportsDir: '/nonexistent',
      intervalMs: MINUTE,
      threshold: { minFreeBytes: 0, minFreePercent: 0 },
    }));
  });
  afterEach(async () => {
    await db.close();
  });

  const register = (who = mkw) =>
    incidents.register(who, {
      kind: 'vandalism',
      title: 'Graffiti',
      description: 'Graffiti in the entrance hall',
      occurredAt: clock.now() - HOUR,
      cameraIds: [seed.cameraIds[0]],
      doorIds: [seed.doorIds[0]],
      reporterKind: 'tenant',
      reporterNote: 'Tenant of no. 12',
    });

  const auditActions = async () =>
    (await db.kysely.selectFrom('audit_events').select('action').orderBy('seq').execute()).map((r) => r.action);

  it('registers an incident with reporter (W 2.4) and assessor, audited, readable by the gate', async () => {
    const incident = await register();
    expect(incident).toMatchObject({
      status: 'open',
      kind: 'vandalism',
      complexId: seed.complexId,
      reporterKind: 'tenant',
      assessedBy: 'u-mkw',
      cameraIds: [seed.cameraIds[0]],
    });
    expect(await incidentFacts(db.kysely, incident.id)).toEqual({ kind: 'vandalism', status: 'open' });
    expect(await auditActions()).toEqual(['incident.register']);
  });

  it('refuses roles without manage-incidents, bad input and unknown cameras, writing nothing', async () => {
    await expect(register(technician)).rejects.toMatchObject({ code: 'incidents-not-allowed' });
    await expect(register(admin)).rejects.toMatchObject({ code: 'incidents-not-allowed' });
    await expect(
      incidents.register(mkw, {
        kind: 'accusation' as never,
        title: 'x',
        description: 'y',
        occurredAt: 0,
        reporterKind: 'tenant',
      }),
    ).rejects.toMatchObject({ code: 'validation-failed' });
    await expect(
      incidents.register(mkw, {
        kind: 'crime',
        title: 'x',
        description: 'y',
        occurredAt: clock.now(),
        cameraIds: ['nope'],
        reporterKind: 'police',
      }),
    ).rejects.toMatchObject({ code: 'incident-target-not-found' });
    expect(await db.kysely.selectFrom('incidents').selectAll().execute()).toEqual([]);
  });

  it('runs open -> handled -> closed -> reopened with history; close releases linked holds (M 6.6)', async () => {
    const incident = await register();
    const hold = await holds.secureForIncident(mkw, incident.id, { reason: 'Secure on request of the tenant' });
    // The default window: the time of occurrence plus and minus two hours.
    expect(hold.to - hold.from).toBe(4 * HOUR);
    expect(hold.reviewAt).toBe(clock.now() + 90 * DAY);
    await expect(incidents.close(mkw, incident.id)).rejects.toMatchObject({ code: 'incident-not-handled' });
    await expect(incidents.handle(mkw, incident.id, { outcome: 'irrevocable-judgment' })).rejects.toMatchObject({
      code: 'outcome-invalid',
    });
    const handled = await incidents.handle(mkw, incident.id, {
      outcome: 'irrevocable-judgment',
      judgmentDate: clock.now() - DAY,
      note: 'Court of appeal, no cassation',
    });
    expect(handled).toMatchObject({
      status: 'handled',
      outcome: 'irrevocable-judgment',
      outcomeDate: clock.now() - DAY,
    });
    // Handled is not closed: the hold still stands.
    expect((await holds.get(mkw, hold.id)).active).toBe(true);
    clock.advance(MINUTE);
    const closed = await incidents.close(mkw, incident.id, 'Done');
    expect(closed.status).toBe('closed');
    const released = await holds.get(mkw, hold.id);
    expect(released).toMatchObject({ active: false, releaseReason: 'incident closed', releasedBy: 'u-mkw' });
    await expect(incidents.reopen(mkw, incident.id, '  ')).rejects.toMatchObject({ code: 'validation-failed' });
    clock.advance(MINUTE);
    const reopened = await incidents.reopen(mkw, incident.id, 'The tenant brought new evidence');
    expect(reopened).toMatchObject({ status: 'open', reopenCount: 1, outcome: null });
    // Reopened: no longer handled, so what the close released is secured again, as a new hold
    // with the same scope; the released one stays released (its history is kept).
    const active = (await holds.list(mkw, {})).filter((h) => h.active);
    expect(active).toHaveLength(1);
    expect(active[0]).toMatchObject({
      from: hold.from,
      to: hold.to,
      cameraIds: hold.cameraIds,
      linkType: 'incident',
      linkId: incident.id,
      reviewAt: clock.now() + 90 * DAY,
    });
    expect(active[0]!.id).not.toBe(hold.id);
    expect((await holds.get(mkw, hold.id)).active).toBe(false);
    const detail = await incidents.get(mkw, incident.id);
    expect(detail.history.map((h) => h.step)).toEqual(['registered', 'handled', 'closed', 'reopened']);
    expect(detail.history[3]!.reason).toBe('The tenant brought new evidence');
    expect(await auditActions()).toEqual([
      'incident.register',
      'hold.create',
      'incident.handle',
      'incident.close',
      'hold.release',
      'incident.reopen',
      'hold.create',
    ]);
  });

  it('secures in one action before anyone views anything; only with secure-footage (W 2.4, M 2.4)', async () => {
    const incident = await register();
    await expect(holds.secureForIncident(technician, incident.id, { reason: 'x' })).rejects.toMatchObject({
      code: 'secure-not-allowed',
    });
    const hold = await holds.secureForIncident(mkw, incident.id, {
      reason: 'Police asked (M 2.4)',
      from: clock.now() - 2 * HOUR,
      to: clock.now(),
      tags: ['TAG-7'],
    });
    expect(hold).toMatchObject({
      linkType: 'incident',
      linkId: incident.id,
      doorIds: [seed.doorIds[0]],
      tags: ['TAG-7'],
    });
    // No logbook record: securing is not a consultation; the audit trail records it.
    expect(await db.kysely.selectFrom('logbook_records').selectAll().execute()).toEqual([]);
    const audit = await db.kysely
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'hold.create')
      .executeTakeFirstOrThrow();
    expect(audit.actor_id).toBe('u-mkw');
    await expect(holds.secureForIncident(mkw, 'missing', { reason: 'x' })).rejects.toMatchObject({
      code: 'incident-not-found',
    });
    await expect(
      holds.create(mkw, {
        cameraIds: [seed.cameraIds[0]],
        from: 10,
        to: 5,
        reason: 'x',
        linkType: 'police-order',
        linkRef: 'r',
      }),
    ).rejects.toMatchObject({ code: 'hold-scope-invalid' });
    await expect(
      holds.create(mkw, { cameraIds: [seed.cameraIds[0]], from: 0, to: 5, reason: 'x', linkType: 'police-order' }),
    ).rejects.toMatchObject({ code: 'hold-link-missing' });
  });

  it('lists holds past their review date; review and release need a reason', async () => {
    const incident = await register();
    const hold = await holds.secureForIncident(mkw, incident.id, { reason: 'Secure' });
    expect(await holds.overdue(mkw)).toEqual([]);
    clock.advance(91 * DAY);
    expect((await holds.overdue(mkw)).map((h) => h.id)).toEqual([hold.id]);
    const reviewed = await holds.review(mkw, hold.id, 'Court case still running');
    expect(reviewed.reviewAt).toBe(clock.now() + 90 * DAY);
    expect(await holds.overdue(mkw)).toEqual([]);
    await expect(holds.release(mkw, hold.id, '')).rejects.toMatchObject({ code: 'validation-failed' });
    await holds.release(mkw, hold.id, 'Settled with the insurer');
    await expect(holds.release(mkw, hold.id, 'again')).rejects.toMatchObject({ code: 'hold-released' });
    await expect(holds.list(technician, {})).rejects.toMatchObject({ code: 'holds-not-allowed' });
  });

  it('refuses to secure for a closed incident (reopen first)', async () => {
    const incident = await register();
    await incidents.handle(mkw, incident.id, { outcome: 'no-further-action' });
    await incidents.close(mkw, incident.id);
    await expect(holds.secureForIncident(mkw, incident.id, { reason: 'late' })).rejects.toMatchObject({
      code: 'incident-closed',
    });
  });
});
