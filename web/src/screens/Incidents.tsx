/**
 * Incidents and holds (W 2.4, M 2.4): register an incident, secure its footage and door events
 * in one action, see and release holds with a reason, handle and close an incident with its
 * outcome. The server decides who may do what; this screen only collects and shows.
 */
import { useState, type FormEvent } from 'react';
import { ErrorMessage, Loading, Notice, Time, useAction, useLoad } from '../components/common';
import { Table } from '../components/table';
import { useI18n, type MessageKey } from '../i18n';
import { api, query } from '../lib/api';
import { Link, navigate, useLocation } from '../lib/router';
import { isoToLocalInput, localInputToIso } from '../lib/time';

const KINDS = ['damage', 'nuisance', 'vandalism', 'pollution', 'crime', 'calamity', 'other'] as const;
const REPORTERS = ['tenant', 'visitor', 'third-party', 'emergency-services', 'police', 'manager'] as const;
const OUTCOMES = ['resolved', 'no-further-action', 'settled', 'irrevocable-judgment'] as const;

export interface Incident {
  id: string;
  kind: string;
  title: string;
  description: string;
  occurredAt: string;
  complexId: string | null;
  cameraIds: string[];
  doorIds: string[];
  status: string;
  outcome: string | null;
  outcomeNote: string | null;
  createdAt: string;
  closedAt: string | null;
  openTooLong: boolean;
}
export interface Hold {
  id: string;
  cameraIds: string[];
  doorIds: string[];
  tags: string[];
  from: string;
  to: string;
  ownerLabel: string;
  reason: string;
  linkType: string;
  linkId: string | null;
  linkRef: string | null;
  reviewAt: string;
  createdAt: string;
  releasedAt: string | null;
  releaseReason: string | null;
  active: boolean;
  overdue: boolean;
}
interface Named {
  id: string;
  name: string;
  buildingId?: string;
  complexId?: string;
}

const useNamed = (path: string) =>
  useLoad(() => api<{ items: Named[] }>('GET', `${path}?limit=500`).then((page) => page.items), [path]);

export function IncidentsScreen() {
  const { t } = useI18n();
  const { params } = useLocation();
  const openId = params.get('id');
  const status = params.get('status') ?? 'open';
  const list = useLoad(
    () => api<{ items: Incident[] }>('GET', `/incidents${query({ status: status === 'all' ? '' : status })}`),
    [status],
  );
  return (
    <section aria-labelledby="incidents-title">
      <h1 id="incidents-title">{t('incidents.title')}</h1>
      <p className="muted">{t('incidents.intro')}</p>
      {openId ? (
        <IncidentDetail id={openId} onChange={() => void list.reload()} />
      ) : (
        <>
          <RegisterIncident onDone={(id) => navigate(`/incidents?id=${encodeURIComponent(id)}`)} />
          <section aria-labelledby="incident-list-title" className="panel">
            <h2 id="incident-list-title">{t('incidents.list')}</h2>
            <div className="field">
              <label htmlFor="incident-status">{t('incidents.status')}</label>
              <select
                id="incident-status"
                value={status}
                onChange={(e) => navigate(`/incidents?status=${e.target.value}`, { replace: true })}
              >
                {['open', 'handled', 'closed', 'all'].map((s) => (
                  <option key={s} value={s}>
                    {t(`incidents.status.${s}` as MessageKey)}
                  </option>
                ))}
              </select>
            </div>
            <Loading loading={list.loading} />
            <ErrorMessage error={list.error} />
            <Table
              caption={t('incidents.list')}
              head={[t('incidents.titleField'), t('incidents.kind'), t('incidents.occurredAt'), t('incidents.status')]}
              rows={(list.data?.items ?? []).map((i) => [
                <Link key="l" to={`/incidents?id=${encodeURIComponent(i.id)}`}>
                  {i.title}
                </Link>,
                t(`incidents.kind.${i.kind}` as MessageKey),
                <Time key="t" value={i.occurredAt} />,
                <>
                  {t(`incidents.status.${i.status}` as MessageKey)}
                  {i.openTooLong && <> ({t('incidents.openTooLong')})</>}
                </>,
              ])}
            />
          </section>
        </>
      )}
    </section>
  );
}

function RegisterIncident({ onDone }: { onDone: (id: string) => void }) {
  const { t } = useI18n();
  const action = useAction();
  const complexes = useNamed('/complexes');
  const cameras = useNamed('/cameras');
  const doors = useNamed('/doors');
  const [form, setForm] = useState({
    kind: 'vandalism',
    title: '',
    description: '',
    occurredAt: isoToLocalInput(Date.now() - 3_600_000),
    complexId: '',
    reporterKind: 'tenant',
  });
  const [cameraIds, setCameraIds] = useState<string[]>([]);
  const [doorIds, setDoorIds] = useState<string[]>([]);
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const created = await api<Incident>('POST', '/incidents', {
        kind: form.kind,
        title: form.title.trim(),
        description: form.description.trim(),
        occurredAt: localInputToIso(form.occurredAt),
        reporterKind: form.reporterKind,
        ...(form.complexId ? { complexId: form.complexId } : {}),
        cameraIds,
        doorIds,
      });
      onDone(created.id);
    });
  };
  return (
    <details className="panel">
      <summary>{t('incidents.register')}</summary>
      <form onSubmit={submit}>
        <div className="row">
          <div className="field">
            <label htmlFor="incident-kind">{t('incidents.kind')}</label>
            <select id="incident-kind" value={form.kind} onChange={(e) => set('kind')(e.target.value)}>
              {KINDS.map((k) => (
                <option key={k} value={k}>
                  {t(`incidents.kind.${k}` as MessageKey)}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="incident-occurred">{t('incidents.occurredAt')}</label>
            <input
              id="incident-occurred"
              type="datetime-local"
              required
              value={form.occurredAt}
              onChange={(e) => set('occurredAt')(e.target.value)}
            />
          </div>
        </div>
        <div className="field">
          <label htmlFor="incident-title">{t('incidents.titleField')}</label>
          <input
            id="incident-title"
            required
            maxLength={200}
            value={form.title}
            onChange={(e) => set('title')(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="incident-description">{t('incidents.description')}</label>
          <textarea
            id="incident-description"
            required
            maxLength={4000}
            rows={3}
            value={form.description}
            onChange={(e) => set('description')(e.target.value)}
          />
        </div>
        <div className="row">
          <div className="field">
            <label htmlFor="incident-complex">{t('incidents.complex')}</label>
            <select id="incident-complex" value={form.complexId} onChange={(e) => set('complexId')(e.target.value)}>
              <option value="">{t('common.choose')}</option>
              {(complexes.data ?? []).map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="incident-reporter">{t('incidents.reporter')}</label>
            <select
              id="incident-reporter"
              value={form.reporterKind}
              onChange={(e) => set('reporterKind')(e.target.value)}
            >
              {REPORTERS.map((r) => (
                <option key={r} value={r}>
                  {t(`incidents.reporter.${r}` as MessageKey)}
                </option>
              ))}
            </select>
          </div>
        </div>
        <Choice legend={t('incidents.cameras')} items={cameras.data ?? []} value={cameraIds} onChange={setCameraIds} />
        <Choice legend={t('incidents.doors')} items={doors.data ?? []} value={doorIds} onChange={setDoorIds} />
        <button disabled={action.busy}>{t('incidents.registerSubmit')}</button>
        <ErrorMessage error={action.error} />
      </form>
    </details>
  );
}

function Choice({
  legend,
  items,
  value,
  onChange,
}: {
  legend: string;
  items: Named[];
  value: string[];
  onChange: (value: string[]) => void;
}) {
  if (items.length === 0) return null;
  return (
    <fieldset>
      <legend>{legend}</legend>
      {items.map((item) => (
        <label key={item.id} className="check">
          <input
            type="checkbox"
            checked={value.includes(item.id)}
            onChange={(e) => onChange(e.target.checked ? [...value, item.id] : value.filter((x) => x !== item.id))}
          />
          {item.name}
        </label>
      ))}
    </fieldset>
  );
}

function IncidentDetail({ id, onChange }: { id: string; onChange: () => void }) {
  const { t } = useI18n();
  const detail = useLoad(() => api<Incident & { holds: Hold[] }>('GET', `/incidents/${encodeURIComponent(id)}`), [id]);
  const cameras = useNamed('/cameras');
  const doors = useNamed('/doors');
  const names = new Map([...(cameras.data ?? []), ...(doors.data ?? [])].map((n) => [n.id, n.name]));
  const reload = () => {
    void detail.reload();
    onChange();
  };
  const incident = detail.data;
  return (
    <>
      <p>
        <Link to="/incidents">{t('incidents.back')}</Link>
      </p>
      <Loading loading={detail.loading} />
      <ErrorMessage error={detail.error} />
      {incident && (
        <>
          <section aria-labelledby="incident-title" className="panel">
            <h2 id="incident-title">{incident.title}</h2>
            <dl className="facts">
              <dt>{t('incidents.kind')}</dt>
              <dd>{t(`incidents.kind.${incident.kind}` as MessageKey)}</dd>
              <dt>{t('incidents.occurredAt')}</dt>
              <dd>
                <Time value={incident.occurredAt} />
              </dd>
              <dt>{t('incidents.status')}</dt>
              <dd data-testid="incident-status">
                {t(`incidents.status.${incident.status}` as MessageKey)}
                {incident.outcome && <> — {t(`incidents.outcome.${incident.outcome}` as MessageKey)}</>}
              </dd>
              <dt>{t('incidents.description')}</dt>
              <dd>{incident.description}</dd>
              <dt>{t('incidents.cameras')}</dt>
              <dd>{incident.cameraIds.map((c) => names.get(c) ?? c).join(', ') || '–'}</dd>
              <dt>{t('incidents.doors')}</dt>
              <dd>{incident.doorIds.map((d) => names.get(d) ?? d).join(', ') || '–'}</dd>
            </dl>
          </section>
          {incident.status !== 'closed' && <SecureForm incident={incident} onDone={reload} />}
          <section aria-labelledby="incident-holds-title" className="panel">
            <h2 id="incident-holds-title">{t('holds.ofIncident')}</h2>
            <HoldTable holds={incident.holds} names={names} onChange={reload} />
          </section>
          {incident.status !== 'closed' && <CloseForm incident={incident} onDone={reload} />}
          {incident.status === 'closed' && <ReopenForm incident={incident} onDone={reload} />}
        </>
      )}
    </>
  );
}

/** "Secure footage and door events" in one action: the hold exists when the server answers (W 2.4). */
function SecureForm({ incident, onDone }: { incident: Incident; onDone: () => void }) {
  const { t } = useI18n();
  const action = useAction();
  const occurred = Date.parse(incident.occurredAt);
  const [from, setFrom] = useState(isoToLocalInput(occurred - 3_600_000));
  const [to, setTo] = useState(isoToLocalInput(Math.min(Date.now(), occurred + 3_600_000)));
  const [reason, setReason] = useState('');
  const [done, setDone] = useState(false);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      setDone(false);
      await api('POST', `/incidents/${encodeURIComponent(incident.id)}/secure`, {
        reason: reason.trim(),
        window: { from: localInputToIso(from), to: localInputToIso(to) },
      });
      setDone(true);
      setReason('');
      onDone();
    });
  };
  return (
    <section aria-labelledby="secure-title" className="panel">
      <h2 id="secure-title">{t('secure.title')}</h2>
      <p>{t('secure.intro')}</p>
      <form onSubmit={submit}>
        <div className="row">
          <div className="field">
            <label htmlFor="secure-from">{t('purpose.from')}</label>
            <input
              id="secure-from"
              type="datetime-local"
              required
              value={from}
              onChange={(e) => setFrom(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="secure-to">{t('purpose.to')}</label>
            <input id="secure-to" type="datetime-local" required value={to} onChange={(e) => setTo(e.target.value)} />
          </div>
        </div>
        <div className="field">
          <label htmlFor="secure-reason">{t('secure.reason')}</label>
          <textarea
            id="secure-reason"
            required
            maxLength={2000}
            rows={2}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
          />
        </div>
        <button disabled={action.busy}>{t('secure.submit')}</button>
      </form>
      <ErrorMessage error={action.error} />
      {done && <Notice>{t('secure.done')}</Notice>}
    </section>
  );
}

function CloseForm({ incident, onDone }: { incident: Incident; onDone: () => void }) {
  const { t } = useI18n();
  const action = useAction();
  const [outcome, setOutcome] = useState<string>(incident.outcome ?? 'resolved');
  const [judgmentDate, setJudgmentDate] = useState('');
  const [note, setNote] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const base = `/incidents/${encodeURIComponent(incident.id)}`;
      if (incident.status === 'open') {
        await api('POST', `${base}/handle`, {
          outcome,
          ...(outcome === 'irrevocable-judgment' && judgmentDate ? { judgmentDate } : {}),
          ...(note.trim() ? { note: note.trim() } : {}),
        });
      }
      await api('POST', `${base}/close`, note.trim() ? { note: note.trim() } : {});
      onDone();
    });
  };
  return (
    <section aria-labelledby="close-title" className="panel">
      <h2 id="close-title">{t('incidents.close')}</h2>
      <form onSubmit={submit}>
        {incident.status === 'open' && (
          <div className="row">
            <div className="field">
              <label htmlFor="close-outcome">{t('incidents.outcome')}</label>
              <select id="close-outcome" value={outcome} onChange={(e) => setOutcome(e.target.value)}>
                {OUTCOMES.map((o) => (
                  <option key={o} value={o}>
                    {t(`incidents.outcome.${o}` as MessageKey)}
                  </option>
                ))}
              </select>
            </div>
            {outcome === 'irrevocable-judgment' && (
              <div className="field">
                <label htmlFor="close-judgment">{t('incidents.judgmentDate')}</label>
                <input
                  id="close-judgment"
                  type="date"
                  required
                  value={judgmentDate}
                  onChange={(e) => setJudgmentDate(e.target.value)}
                />
              </div>
            )}
          </div>
        )}
        <div className="field">
          <label htmlFor="close-note">{t('incidents.closeNote')}</label>
          <textarea id="close-note" maxLength={2000} rows={2} value={note} onChange={(e) => setNote(e.target.value)} />
        </div>
        <p className="hint">{t('incidents.closeHint')}</p>
        <button disabled={action.busy}>{t('incidents.closeSubmit')}</button>
      </form>
      <ErrorMessage error={action.error} />
    </section>
  );
}

/** A closed incident can be reopened with a reason; what its close released is secured again. */
function ReopenForm({ incident, onDone }: { incident: Incident; onDone: () => void }) {
  const { t } = useI18n();
  const action = useAction();
  const [reason, setReason] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      await api('POST', `/incidents/${encodeURIComponent(incident.id)}/reopen`, { reason: reason.trim() });
      setReason('');
      onDone();
    });
  };
  return (
    <section aria-labelledby="reopen-title" className="panel">
      <h2 id="reopen-title">{t('incidents.reopen')}</h2>
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor="reopen-reason">{t('incidents.reopenReason')}</label>
          <textarea
            id="reopen-reason"
            required
            maxLength={2000}
            rows={2}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
          />
        </div>
        <p className="hint">{t('incidents.reopenHint')}</p>
        <button disabled={action.busy || !reason.trim()}>{t('incidents.reopenSubmit')}</button>
      </form>
      <ErrorMessage error={action.error} />
    </section>
  );
}

export function HoldTable({
  holds,
  names,
  onChange,
}: {
  holds: Hold[];
  names: Map<string, string>;
  onChange: () => void;
}) {
  const { t } = useI18n();
  const [releasing, setReleasing] = useState<string | null>(null);
  return (
    <>
      <Table
        caption={t('holds.title')}
        empty={t('holds.none')}
        head={[t('holds.scope'), t('holds.window'), t('holds.reason'), t('holds.review'), t('holds.state'), '']}
        rows={holds.map((h) => [
          [...h.cameraIds, ...h.doorIds].map((id) => names.get(id) ?? id).join(', ') +
            (h.tags.length ? ` ${h.tags.join(', ')}` : ''),
          <>
            <Time value={h.from} /> – <Time value={h.to} />
          </>,
          h.reason,
          <>
            <Time value={h.reviewAt} />
            {h.overdue && <strong> {t('holds.overdue')}</strong>}
          </>,
          h.active ? t('holds.active') : `${t('holds.released')}: ${h.releaseReason ?? ''}`,
          h.active ? (
            <button key="r" type="button" className="secondary" onClick={() => setReleasing(h.id)}>
              {t('holds.release')}
            </button>
          ) : null,
        ])}
      />
      {releasing && (
        <ReleaseForm
          id={releasing}
          onDone={() => {
            setReleasing(null);
            onChange();
          }}
        />
      )}
    </>
  );
}

function ReleaseForm({ id, onDone }: { id: string; onDone: () => void }) {
  const { t } = useI18n();
  const action = useAction();
  const [reason, setReason] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      await api('POST', `/holds/${encodeURIComponent(id)}/release`, { reason: reason.trim() });
      onDone();
    });
  };
  return (
    <form onSubmit={submit} className="panel">
      <div className="field">
        <label htmlFor="release-reason">{t('holds.releaseReason')}</label>
        <textarea
          id="release-reason"
          required
          maxLength={2000}
          rows={2}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
        />
        <p className="hint">{t('holds.releaseHint')}</p>
      </div>
      <button disabled={action.busy}>{t('holds.releaseSubmit')}</button>
      <ErrorMessage error={action.error} />
    </form>
  );
}

/** Every hold: active first, past review flagged; release with a reason. */
export function HoldsScreen() {
  const { t } = useI18n();
  const { params } = useLocation();
  const active = params.get('active') ?? 'true';
  const holds = useLoad(
    () => api<{ items: Hold[] }>('GET', `/holds${query({ active: active === 'all' ? '' : active })}`),
    [active],
  );
  const cameras = useNamed('/cameras');
  const doors = useNamed('/doors');
  const names = new Map([...(cameras.data ?? []), ...(doors.data ?? [])].map((n) => [n.id, n.name]));
  return (
    <section aria-labelledby="holds-title">
      <h1 id="holds-title">{t('holds.title')}</h1>
      <p className="muted">{t('holds.intro')}</p>
      <div className="field">
        <label htmlFor="holds-active">{t('holds.state')}</label>
        <select
          id="holds-active"
          value={active}
          onChange={(e) => navigate(`/holds?active=${e.target.value}`, { replace: true })}
        >
          <option value="true">{t('holds.active')}</option>
          <option value="false">{t('holds.released')}</option>
          <option value="all">{t('common.all')}</option>
        </select>
      </div>
      <Loading loading={holds.loading} />
      <ErrorMessage error={holds.error} />
      {holds.data && <HoldTable holds={holds.data.items} names={names} onChange={() => void holds.reload()} />}
      {holds.data?.items.some((h) => h.linkType === 'incident') && (
        <ul>
          {holds.data.items
            .filter((h) => h.linkType === 'incident' && h.linkId)
            .map((h) => (
              <li key={h.id}>
                <Link to={`/incidents?id=${encodeURIComponent(h.linkId!)}`}>
                  {t('holds.toIncident')} ({h.reason})
                </Link>
              </li>
            ))}
        </ul>
      )}
    </section>
  );
}
