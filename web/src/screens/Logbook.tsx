import { useState, type FormEvent } from 'react';
import { ErrorMessage, Loading, Notice, Time, useAction, useLoad } from '../components/common';
import { FindingForm } from '../components/FindingForm';
import { useI18n, type MessageKey } from '../i18n';
import { api, query } from '../lib/api';
import { navigate, useLocation } from '../lib/router';
import { can, useSignedIn } from '../lib/session';
import { isoToLocalInput, localInputToIso } from '../lib/time';

export interface Entry {
  entryId: string;
  seq: number;
  occurredAt: string;
  userId: string;
  userLabel: string;
  roles: string[];
  purpose: string | null;
  category: string | null;
  scope: { cameraIds?: string[]; doorIds?: string[]; tag?: string };
  from: string | null;
  to: string | null;
  reason: string | null;
  incidentId: string | null;
  finding: { text: string; at: string; byLabel: string } | null;
  signature: { at: string; byLabel: string } | null;
  status: 'awaiting-finding' | 'awaiting-signature' | 'signed';
  findingDue: string;
  signatureDue: string;
  overdue: ('finding-overdue' | 'signature-overdue')[];
}

const PAGE = 25;
const STATUSES = ['awaiting-finding', 'awaiting-signature', 'signed'] as const;

/**
 * The logbook (M 6.4): filters and paging on the server (by sequence number), the finding of
 * the consulting user, the signature of a signing role (never one's own entry), exports and
 * the chain check.
 */
export function LogbookScreen() {
  const { t, language } = useI18n();
  const { session, permissions } = useSignedIn();
  const location = useLocation();
  const filters = {
    status: location.params.get('status') ?? '',
    purpose: location.params.get('purpose') ?? '',
    from: location.params.get('from') ?? '',
    to: location.params.get('to') ?? '',
  };
  const [pages, setPages] = useState<number[]>([]); // beforeSeq of each page after the first
  const beforeSeq = pages[pages.length - 1];
  const filterQuery = {
    status: filters.status,
    purpose: filters.purpose,
    from: filters.from ? (localInputToIso(filters.from) ?? undefined) : undefined,
    to: filters.to ? (localInputToIso(filters.to) ?? undefined) : undefined,
  };
  const key = JSON.stringify(filterQuery);
  const list = useLoad(
    () =>
      api<{ items: Entry[]; nextBeforeSeq: number | null }>(
        'GET',
        `/logbook${query({ ...filterQuery, beforeSeq, limit: PAGE })}`,
      ),
    [key, beforeSeq],
  );
  const verify = useLoad(
    () =>
      api<{ ok: boolean; checked: number; signedHeads: number; problem?: { seq: number; message: string } }>(
        'GET',
        '/logbook/verify',
      ),
    [],
  );
  const action = useAction();
  const [notice, setNotice] = useState<string | null>(null);

  const applyFilters = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const params: Record<string, string> = {};
    for (const name of ['status', 'purpose', 'from', 'to']) {
      const value = data.get(name);
      if (typeof value === 'string' && value) params[name] = value;
    }
    setPages([]);
    navigate(`/logbook${query(params)}`, { replace: true });
  };

  const sign = (entry: Entry) =>
    void action.run(async () => {
      await api('POST', `/logbook/${encodeURIComponent(entry.entryId)}/signature`);
      setNotice(t('logbook.signed', { seq: entry.seq }));
      await list.reload();
    });

  const purposeLabel = (purpose: string | null) => (purpose ? tPurpose(purpose, language, t) : '–');
  const exportQuery = query(filterQuery);

  return (
    <section aria-labelledby="logbook-title">
      <h1 id="logbook-title">{t('logbook.title')}</h1>
      <p className="muted">{t('logbook.intro')}</p>
      {verify.data && (
        <p role="status" className={verify.data.ok ? 'ok' : 'error'} data-testid="logbook-verify">
          {verify.data.ok
            ? t('logbook.verifyOk', { checked: verify.data.checked, heads: verify.data.signedHeads })
            : t('logbook.verifyBad', {
                seq: verify.data.problem?.seq ?? '?',
                message: verify.data.problem?.message ?? '',
              })}
        </p>
      )}
      <ErrorMessage error={verify.error} />
      <form
        className="filters"
        onSubmit={applyFilters}
        aria-label={t('logbook.filters')}
        key={location.params.toString()}
      >
        <div className="field">
          <label htmlFor="filter-status">{t('logbook.status')}</label>
          <select id="filter-status" name="status" defaultValue={filters.status}>
            <option value="">{t('common.all')}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`logbook.status.${s}` as MessageKey)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-purpose">{t('purpose.purpose')}</label>
          <select id="filter-purpose" name="purpose" defaultValue={filters.purpose}>
            <option value="">{t('common.all')}</option>
            {PURPOSE_IDS.map((p) => (
              <option key={p} value={p}>
                {tPurpose(p, language, t)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-from">{t('purpose.from')}</label>
          <input
            id="filter-from"
            name="from"
            type="datetime-local"
            defaultValue={filters.from}
            max={isoToLocalInput(Date.now() + 86_400_000)}
          />
        </div>
        <div className="field">
          <label htmlFor="filter-to">{t('purpose.to')}</label>
          <input id="filter-to" name="to" type="datetime-local" defaultValue={filters.to} />
        </div>
        <button>{t('logbook.filter')}</button>
      </form>
      <p className="exports">
        <a href={`/api/logbook/export.csv${exportQuery}`} download>
          {t('logbook.exportCsv')}
        </a>{' '}
        <a href={`/api/logbook/export.pdf${exportQuery}`} download>
          {t('logbook.exportPdf')}
        </a>
      </p>
      {notice && <Notice>{notice}</Notice>}
      <ErrorMessage error={action.error} />
      <Loading loading={list.loading} />
      <ErrorMessage error={list.error} />
      {list.data && list.data.items.length === 0 && <p className="muted">{t('common.empty')}</p>}
      <ol className="entries" aria-label={t('logbook.entries')}>
        {list.data?.items.map((entry) => (
          <li key={entry.entryId} className="entry" data-testid="logbook-entry">
            <div className="entry-head">
              <strong>#{entry.seq}</strong> <Time value={entry.occurredAt} /> · {entry.userLabel} ·{' '}
              {purposeLabel(entry.purpose)}
              <span className={`badge ${entry.status}`}>{t(`logbook.status.${entry.status}` as MessageKey)}</span>
              {entry.overdue.map((o) => (
                <span key={o} className="badge overdue">
                  {t(`logbook.${o}` as MessageKey)}
                </span>
              ))}
            </div>
            <dl>
              <dt>{t('purpose.reason')}</dt>
              <dd>{entry.reason ?? '–'}</dd>
              <dt>{t('logbook.scope')}</dt>
              <dd>{scopeText(entry, t)}</dd>
              <dt>{t('logbook.window')}</dt>
              <dd>
                <Time value={entry.from} /> – <Time value={entry.to} />
              </dd>
              {entry.incidentId && (
                <>
                  <dt>{t('purpose.incident')}</dt>
                  <dd>{entry.incidentId}</dd>
                </>
              )}
              <dt>{t('logbook.finding')}</dt>
              <dd>
                {entry.finding ? (
                  <>
                    {entry.finding.text}{' '}
                    <span className="muted">
                      ({entry.finding.byLabel}, <Time value={entry.finding.at} />)
                    </span>
                  </>
                ) : (
                  <span className="muted">
                    {t('logbook.findingDue')} <Time value={entry.findingDue} />
                  </span>
                )}
              </dd>
              <dt>{t('logbook.signature')}</dt>
              <dd>
                {entry.signature ? (
                  <>
                    {entry.signature.byLabel}{' '}
                    <span className="muted">
                      (<Time value={entry.signature.at} />)
                    </span>
                  </>
                ) : (
                  <span className="muted">
                    {t('logbook.signatureDue')} <Time value={entry.signatureDue} />
                  </span>
                )}
              </dd>
            </dl>
            {!entry.finding && entry.userId === session.user.id && entry.purpose && (
              <FindingForm entryId={entry.entryId} onDone={() => void list.reload()} />
            )}
            {entry.finding &&
              !entry.signature &&
              can(permissions, 'sign-logbook') &&
              entry.userId !== session.user.id && (
                <button type="button" onClick={() => sign(entry)} disabled={action.busy}>
                  {t('logbook.sign', { seq: entry.seq })}
                </button>
              )}
          </li>
        ))}
      </ol>
      <nav className="pager" aria-label={t('common.paging')}>
        <button
          type="button"
          className="secondary"
          disabled={pages.length === 0}
          onClick={() => setPages(pages.slice(0, -1))}
        >
          {t('common.newer')}
        </button>
        <button
          type="button"
          className="secondary"
          disabled={!list.data?.nextBeforeSeq}
          onClick={() => list.data?.nextBeforeSeq && setPages([...pages, list.data.nextBeforeSeq])}
        >
          {t('common.older')}
        </button>
      </nav>
    </section>
  );
}

const PURPOSE_IDS = [
  'incident-assessment',
  'incident-handling',
  'technical-check',
  'tag-function-check',
  'calamity-witness-search',
  'subject-access',
  'disclosure',
];

export function tPurpose(purpose: string, _language: string, t: (key: MessageKey) => string): string {
  return PURPOSE_IDS.includes(purpose) ? t(`purposeName.${purpose}` as MessageKey) : purpose;
}

function scopeText(entry: Entry, t: (key: MessageKey, values?: Record<string, string | number>) => string): string {
  const parts: string[] = [];
  if (entry.category) parts.push(t(`category.${entry.category}` as MessageKey));
  if (entry.scope.tag) parts.push(t('logbook.scopeTag', { tag: entry.scope.tag }));
  if (entry.scope.doorIds?.length) parts.push(t('logbook.scopeDoors', { count: entry.scope.doorIds.length }));
  if (entry.scope.cameraIds?.length) parts.push(t('logbook.scopeCameras', { count: entry.scope.cameraIds.length }));
  return parts.join(' · ') || '–';
}
