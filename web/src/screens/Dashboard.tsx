import { Articles, ErrorMessage, Loading, Time, useLoad } from '../components/common';
import { useI18n, type MessageKey } from '../i18n';
import { api } from '../lib/api';
import { Link } from '../lib/router';
import { can, useSignedIn, type Permissions } from '../lib/session';
import { FindingForm } from '../components/FindingForm';
import type { Entry } from './Logbook';

interface ComplianceItem {
  kind: string;
  severity: 'error' | 'warning';
  message: string;
  messageNl: string;
  since: string | null;
  articles: string[];
  link: { type: string; id: string };
}
interface ComplianceView {
  generatedAt: string;
  policyId: string;
  groups: { complexId: string | null; complexName: string | null; items: ComplianceItem[] }[];
  logbookIncluded: boolean;
}
interface Health {
  cameraId: string;
  cameraName: string;
  state: 'recording' | 'reconnecting' | 'down' | 'stopped';
  since: string | null;
  lastSegmentAt: string | null;
}
interface Outages {
  complexId: string;
  complexName: string;
  cameras: Health[];
}

/** Where an item of the compliance view is resolved. */
function linkOf(link: ComplianceItem['link']): string {
  const id = encodeURIComponent(link.id);
  switch (link.type) {
    case 'hold':
      return '/holds';
    case 'incident':
      return `/incidents?id=${id}`;
    case 'camera':
    case 'camera-defect':
      return '/registry?tab=cameras';
    case 'entrance':
      return '/registry?tab=entrances';
    case 'complex':
      return '/registry?tab=complexes';
    case 'logbook-entry':
      return '/logbook';
    default:
      return '/';
  }
}

const mayComply = (p: Permissions) =>
  p.admin || can(p, 'manage-incidents') || can(p, 'secure-footage') || can(p, 'read-logbook');

/**
 * What needs attention today (the compliance view: alarms, cameras down, holds past review,
 * incidents open too long, registry findings, logbook entries waiting), each item a link to
 * where it is resolved; then the recorder's health per complex.
 */
export function Dashboard() {
  const { t, language } = useI18n();
  const { session, permissions } = useSignedIn();
  const awaiting = useLoad(
    () =>
      can(permissions, 'sign-logbook')
        ? api<{ items: Entry[] }>('GET', '/logbook?status=awaiting-signature&limit=100').then((r) => r.items)
        : Promise.resolve(null),
    [permissions],
  );
  // Own consultations still waiting for their finding (M 6.4): also for roles that may not read the logbook.
  const mine = useLoad(
    () =>
      permissions.admin ? Promise.resolve(null) : api<{ items: Entry[] }>('GET', '/logbook/mine').then((r) => r.items),
    [permissions],
  );
  const compliance = useLoad(
    () => (mayComply(permissions) ? api<ComplianceView>('GET', '/compliance') : Promise.resolve(null)),
    [permissions],
  );
  const health = useLoad(
    () =>
      permissions.admin || can(permissions, 'maintenance-log')
        ? api<{ items: (Health & { complexId: string; complexName: string; shouldRecord: boolean })[] }>(
            'GET',
            '/recording/health',
          ).then((r) => {
            const byComplex = new Map<string, Outages>();
            for (const camera of r.items.filter((c) => c.shouldRecord)) {
              const group = byComplex.get(camera.complexId) ?? {
                complexId: camera.complexId,
                complexName: camera.complexName,
                cameras: [],
              };
              group.cameras.push(camera);
              byComplex.set(camera.complexId, group);
            }
            return [...byComplex.values()];
          })
        : Promise.resolve(null),
    [permissions],
  );
  const groups = compliance.data?.groups.filter((g) => g.items.length > 0) ?? [];
  return (
    <section aria-labelledby="dashboard-title">
      <h1 id="dashboard-title">{t('dashboard.title')}</h1>
      <p>{t('dashboard.welcome', { name: session.user.displayName })}</p>
      <div className="cards">
        {awaiting.data && (
          <section className="card" aria-labelledby="awaiting-title">
            <h2 id="awaiting-title">{t('dashboard.awaitingSignature')}</h2>
            <p className="big">{awaiting.data.filter((e) => e.userId !== session.user.id).length}</p>
            <Link to="/logbook?status=awaiting-signature">{t('dashboard.toLogbook')}</Link>
          </section>
        )}
        {mine.data && mine.data.length > 0 && (
          <section className="card wide" aria-labelledby="mine-title">
            <h2 id="mine-title">{t('dashboard.awaitingMyFinding')}</h2>
            <ul className="findings">
              {mine.data.map((entry) => (
                <li key={entry.entryId}>
                  <p>
                    <Time value={entry.occurredAt} /> · {entry.reason}
                  </p>
                  <FindingForm entryId={entry.entryId} />
                </li>
              ))}
            </ul>
          </section>
        )}
        <ErrorMessage error={mine.error} />
        {mayComply(permissions) && (
          <section className="card wide" aria-labelledby="compliance-title">
            <h2 id="compliance-title">{t('dashboard.compliance')}</h2>
            <Loading loading={compliance.loading} />
            <ErrorMessage error={compliance.error} />
            {compliance.data && groups.length === 0 && <p>{t('dashboard.noFindings')}</p>}
            {groups.map((group) => (
              <section
                key={group.complexId ?? 'installation'}
                aria-label={group.complexName ?? t('dashboard.installation')}
              >
                <h3>{group.complexName ?? t('dashboard.installation')}</h3>
                <ul className="findings">
                  {group.items.map((item, i) => (
                    <li key={`${item.kind}-${item.link.id}-${i}`} className={item.severity}>
                      <span className="tag">{t(`dashboard.kind.${item.kind}` as MessageKey)}</span>{' '}
                      <Link to={linkOf(item.link)}>{language === 'nl' ? item.messageNl : item.message}</Link>
                      {item.since && (
                        <>
                          {' '}
                          ({t('dashboard.since')} <Time value={item.since} />)
                        </>
                      )}{' '}
                      <Articles articles={item.articles} />
                    </li>
                  ))}
                </ul>
              </section>
            ))}
            {compliance.data && !compliance.data.logbookIncluded && (
              <p className="muted">{t('dashboard.logbookNotIncluded')}</p>
            )}
          </section>
        )}
        {health.data && (
          <section className="card wide" aria-labelledby="health-title">
            <h2 id="health-title">{t('dashboard.health')}</h2>
            {health.data.length === 0 && <p className="muted">{t('dashboard.noCameras')}</p>}
            {health.data.map((complex) => {
              const count = (state: Health['state']) => complex.cameras.filter((c) => c.state === state).length;
              return (
                <section key={complex.complexId} aria-label={complex.complexName}>
                  <h3>{complex.complexName}</h3>
                  <p data-testid="health-summary">
                    {t('health.recording')}: {count('recording')} · {t('health.reconnecting')}: {count('reconnecting')}{' '}
                    · {t('health.down')}: {count('down')}
                  </p>
                  <ul>
                    {complex.cameras
                      .filter((c) => c.state !== 'recording')
                      .map((c) => (
                        <li key={c.cameraId} className={c.state === 'down' ? 'error' : 'warning'}>
                          <Link to="/registry?tab=cameras">{c.cameraName}</Link>: {t(`health.${c.state}`)}{' '}
                          {c.since && (
                            <>
                              ({t('dashboard.since')} <Time value={c.since} />)
                            </>
                          )}
                        </li>
                      ))}
                  </ul>
                </section>
              );
            })}
          </section>
        )}
        <ErrorMessage error={health.error} />
      </div>
    </section>
  );
}
