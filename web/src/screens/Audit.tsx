import { useState } from 'react';
import { ErrorMessage, Loading, Time, useLoad } from '../components/common';
import { Table } from '../components/table';
import { useI18n } from '../i18n';
import { api, query } from '../lib/api';

interface AuditEvent {
  seq: number;
  occurredAt: string;
  actorLabel: string;
  action: string;
  targetType: string;
  targetId: string | null;
  outcome: string;
}

const PAGE = 50;

/** The system audit trail (administrators): newest first, paged on the server, with the chain check. */
export function AuditScreen() {
  const { t } = useI18n();
  const [action, setAction] = useState('');
  const [pages, setPages] = useState<number[]>([]);
  const beforeSeq = pages[pages.length - 1];
  const list = useLoad(
    () =>
      api<{ items: AuditEvent[]; nextBeforeSeq: number | null }>(
        'GET',
        `/audit${query({ action: action || undefined, beforeSeq, limit: PAGE })}`,
      ),
    [action, beforeSeq],
  );
  const verify = useLoad(
    () => api<{ ok: boolean; checked: number; problem?: { seq: number } }>('GET', '/audit/verify'),
    [],
  );
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">{t('audit.title')}</h1>
      {verify.data && (
        <p role="status" className={verify.data.ok ? 'ok' : 'error'}>
          {verify.data.ok
            ? t('audit.verifyOk', { checked: verify.data.checked })
            : t('audit.verifyBad', { seq: verify.data.problem?.seq ?? '?' })}
        </p>
      )}
      <div className="filters">
        <div className="field">
          <label htmlFor="audit-action">{t('audit.action')}</label>
          <input
            id="audit-action"
            value={action}
            placeholder="camera.activated"
            onChange={(e) => {
              setPages([]);
              setAction(e.target.value.trim());
            }}
          />
        </div>
      </div>
      <Loading loading={list.loading} />
      <ErrorMessage error={list.error} />
      {list.data && (
        <Table
          caption={t('audit.title')}
          head={['#', t('doorEvents.time'), t('audit.actor'), t('audit.action'), t('audit.target'), t('audit.outcome')]}
          rows={list.data.items.map((e) => [
            String(e.seq),
            <Time key="t" value={e.occurredAt} seconds />,
            e.actorLabel,
            <code key="a">{e.action}</code>,
            `${e.targetType}${e.targetId ? ` ${e.targetId.slice(0, 8)}` : ''}`,
            e.outcome,
          ])}
        />
      )}
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
