import { useState, type FormEvent } from 'react';
import { ErrorMessage, Loading, Notice, Time, useAction, useLoad } from '../components/common';
import { Table } from '../components/table';
import { useI18n, type MessageKey } from '../i18n';
import { api } from '../lib/api';

interface Holder {
  id: string;
  kind: string;
  reference: string;
  addressSet: boolean;
  contactSet: boolean;
  createdAt: string;
}
interface Tag {
  id: string;
  tagCode: string;
  status: 'issued' | 'blocked' | 'returned';
  holderId: string | null;
  holderReference: string | null;
  issuedAt: string;
  noticeGivenAt: string;
  blockedAt: string | null;
  returnedAt: string | null;
}
const HOLDER_KINDS = ['tenant', 'household-member', 'staff', 'contractor'] as const;

/**
 * Key tags and their holders (administrators). Holders are write-only: the screen shows a
 * reference, never the name or contact (those are read only through the gate, M 3.6). A tag
 * is issued only with the notice given to its holder (M 3.5, M 7).
 */
export function KeyTagsScreen() {
  const { t } = useI18n();
  const holders = useLoad(() => api<Holder[]>('GET', '/tag-holders?limit=500'), []);
  const tags = useLoad(() => api<Tag[]>('GET', '/key-tags?limit=500'), []);
  const action = useAction();
  const [notice, setNotice] = useState<string | null>(null);
  const [holder, setHolder] = useState({ kind: 'tenant', name: '', address: '', contact: '' });
  const [issue, setIssue] = useState({ tagCode: '', holderId: '', noticeGiven: false });

  const addHolder = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const created = await api<Holder>('POST', '/tag-holders', {
        kind: holder.kind,
        name: holder.name,
        ...(holder.address ? { address: holder.address } : {}),
        ...(holder.contact ? { contact: holder.contact } : {}),
      });
      setNotice(t('tags.holderSaved', { reference: created.reference }));
      setHolder({ kind: 'tenant', name: '', address: '', contact: '' });
      await holders.reload();
    });
  };
  const issueTag = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const created = await api<Tag>('POST', '/key-tags', issue);
      setNotice(t('tags.issued', { tag: created.tagCode }));
      setIssue({ tagCode: '', holderId: '', noticeGiven: false });
      await tags.reload();
    });
  };
  const change = (tag: Tag, what: 'block' | 'return') =>
    void action.run(async () => {
      await api('POST', `/key-tags/${tag.id}/${what}`);
      setNotice(t(what === 'block' ? 'tags.blocked' : 'tags.returned', { tag: tag.tagCode }));
      await tags.reload();
    });

  return (
    <section aria-labelledby="tags-title">
      <h1 id="tags-title">{t('tags.title')}</h1>
      <p className="muted">{t('tags.intro')}</p>
      <div className="two">
        <details className="form-panel">
          <summary>{t('tags.newHolder')}</summary>
          <form onSubmit={addHolder}>
            <div className="field">
              <label htmlFor="holder-kind">{t('tags.holderKind')}</label>
              <select
                id="holder-kind"
                value={holder.kind}
                onChange={(e) => setHolder({ ...holder, kind: e.target.value })}
              >
                {HOLDER_KINDS.map((k) => (
                  <option key={k} value={k}>
                    {t(`holderKind.${k}` as MessageKey)}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="holder-name">{t('tags.holderName')}</label>
              <input
                id="holder-name"
                required
                value={holder.name}
                onChange={(e) => setHolder({ ...holder, name: e.target.value })}
              />
            </div>
            <div className="field">
              <label htmlFor="holder-address">{t('tags.holderAddress')}</label>
              <input
                id="holder-address"
                value={holder.address}
                onChange={(e) => setHolder({ ...holder, address: e.target.value })}
              />
            </div>
            <div className="field">
              <label htmlFor="holder-contact">{t('tags.holderContact')}</label>
              <input
                id="holder-contact"
                value={holder.contact}
                onChange={(e) => setHolder({ ...holder, contact: e.target.value })}
              />
            </div>
            <button disabled={action.busy}>{t('common.save')}</button>
          </form>
        </details>
        <details className="form-panel">
          <summary>{t('tags.issue')}</summary>
          <form onSubmit={issueTag}>
            <div className="field">
              <label htmlFor="tag-code">{t('doorEvents.tag')}</label>
              <input
                id="tag-code"
                required
                value={issue.tagCode}
                onChange={(e) => setIssue({ ...issue, tagCode: e.target.value })}
              />
            </div>
            <div className="field">
              <label htmlFor="tag-holder">{t('witness.holder')}</label>
              <select
                id="tag-holder"
                required
                value={issue.holderId}
                onChange={(e) => setIssue({ ...issue, holderId: e.target.value })}
              >
                <option value="">{t('common.choose')}</option>
                {holders.data?.map((h) => (
                  <option key={h.id} value={h.id}>
                    {h.reference} ({t(`holderKind.${h.kind}` as MessageKey)})
                  </option>
                ))}
              </select>
            </div>
            <label className="check">
              <input
                type="checkbox"
                checked={issue.noticeGiven}
                onChange={(e) => setIssue({ ...issue, noticeGiven: e.target.checked })}
              />
              {t('tags.noticeGiven')}
            </label>
            <button disabled={action.busy}>{t('tags.issueSubmit')}</button>
          </form>
        </details>
      </div>
      <ErrorMessage error={action.error} />
      {notice && <Notice>{notice}</Notice>}
      <h2>{t('tags.tags')}</h2>
      <Loading loading={tags.loading} />
      <ErrorMessage error={tags.error} />
      {tags.data && (
        <Table
          caption={t('tags.tags')}
          head={[t('doorEvents.tag'), t('witness.holder'), t('tags.status'), t('tags.issuedAt'), '']}
          rows={tags.data.map((tag) => [
            tag.tagCode,
            tag.holderReference ?? '–',
            t(`tagStatus.${tag.status}` as MessageKey),
            <Time key="i" value={tag.issuedAt} />,
            <span key="a" className="actions">
              {tag.status === 'issued' && (
                <button type="button" className="small secondary" onClick={() => change(tag, 'block')}>
                  {t('tags.block')}
                </button>
              )}
              {tag.status !== 'returned' && (
                <button type="button" className="small secondary" onClick={() => change(tag, 'return')}>
                  {t('tags.return')}
                </button>
              )}
            </span>,
          ])}
        />
      )}
      <h2>{t('tags.holders')}</h2>
      {holders.data && (
        <Table
          caption={t('tags.holders')}
          head={[t('tags.reference'), t('tags.holderKind'), t('tags.createdAt')]}
          rows={holders.data.map((h) => [
            h.reference,
            t(`holderKind.${h.kind}` as MessageKey),
            <Time key="c" value={h.createdAt} />,
          ])}
        />
      )}
    </section>
  );
}
