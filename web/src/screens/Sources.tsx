import { useState, type FormEvent } from 'react';
import { ErrorMessage, Loading, Notice, Time, useAction, useLoad } from '../components/common';
import { Table } from '../components/table';
import { useI18n } from '../i18n';
import { api } from '../lib/api';

interface Source {
  id: string;
  name: string;
  kind: 'http' | 'csv' | 'mqtt';
  doorScope: string[];
  counters: { received: number; accepted: number; rejected: number; late: number; duplicate: number };
  createdAt: string;
}
interface ApiKey {
  id: string;
  sourceId: string;
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
}
interface Door {
  id: string;
  name: string;
  code: string;
}

/** Door-event sources (controllers) and their API keys (administrators). A new key is shown once. */
export function SourcesScreen() {
  const { t } = useI18n();
  const sources = useLoad(() => api<Source[]>('GET', '/door-event-sources'), []);
  const doors = useLoad(() => api<{ items: Door[] }>('GET', '/doors?limit=500').then((r) => r.items), []);
  const action = useAction();
  const [form, setForm] = useState({ name: '', kind: 'http', doorScope: [] as string[] });
  const [newKey, setNewKey] = useState<{ source: string; key: string } | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const keys = useLoad(
    () => (open ? api<ApiKey[]>('GET', `/door-event-sources/${open}/api-keys`) : Promise.resolve(null)),
    [open],
  );
  const [notice, setNotice] = useState<string | null>(null);

  const add = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const created = await api<Source>('POST', '/door-event-sources', form);
      setNotice(t('common.saved', { name: created.name }));
      setForm({ name: '', kind: 'http', doorScope: [] });
      await sources.reload();
    });
  };
  const issueKey = (source: Source) =>
    void action.run(async () => {
      const issued = await api<{ key: string; apiKey: ApiKey }>('POST', `/door-event-sources/${source.id}/api-keys`);
      setNewKey({ source: source.name, key: issued.key });
      setOpen(source.id);
      await keys.reload();
    });
  const revoke = (key: ApiKey) =>
    void action.run(async () => {
      await api('POST', `/door-event-sources/${key.sourceId}/api-keys/${key.id}/revoke`);
      await keys.reload();
    });

  return (
    <section aria-labelledby="sources-title">
      <h1 id="sources-title">{t('sources.title')}</h1>
      <p className="muted">{t('sources.intro')}</p>
      <details className="form-panel">
        <summary>{t('sources.add')}</summary>
        <form onSubmit={add}>
          <div className="field">
            <label htmlFor="source-name">{t('registry.name')}</label>
            <input
              id="source-name"
              required
              value={form.name}
              onChange={(e) => setForm({ ...form, name: e.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor="source-kind">{t('sources.kind')}</label>
            <select id="source-kind" value={form.kind} onChange={(e) => setForm({ ...form, kind: e.target.value })}>
              <option value="http">HTTP</option>
              <option value="mqtt">MQTT</option>
            </select>
          </div>
          <fieldset>
            <legend>{t('sources.doors')}</legend>
            {doors.data?.map((d) => (
              <label key={d.id} className="check">
                <input
                  type="checkbox"
                  checked={form.doorScope.includes(d.id)}
                  onChange={(e) =>
                    setForm({
                      ...form,
                      doorScope: e.target.checked
                        ? [...form.doorScope, d.id]
                        : form.doorScope.filter((x) => x !== d.id),
                    })
                  }
                />
                {d.name} ({d.code})
              </label>
            ))}
          </fieldset>
          <button disabled={action.busy}>{t('common.save')}</button>
        </form>
      </details>
      <ErrorMessage error={action.error} />
      {notice && <Notice>{notice}</Notice>}
      {newKey && (
        <div role="status" className="notice">
          <p>{t('sources.keyOnce', { source: newKey.source })}</p>
          <code className="link">{newKey.key}</code>
        </div>
      )}
      <Loading loading={sources.loading} />
      <ErrorMessage error={sources.error} />
      {sources.data && (
        <Table
          caption={t('sources.title')}
          head={[t('registry.name'), t('sources.kind'), t('sources.doors'), t('sources.counters'), '']}
          rows={sources.data.map((s) => [
            s.name,
            s.kind.toUpperCase(),
            String(s.doorScope.length),
            t('sources.countersText', { ...s.counters }),
            <span key="a" className="actions">
              <button type="button" className="small secondary" onClick={() => setOpen(open === s.id ? null : s.id)}>
                {t('sources.keys')}
              </button>
              {s.kind !== 'csv' && (
                <button type="button" className="small" onClick={() => issueKey(s)}>
                  {t('sources.newKey')}
                </button>
              )}
            </span>,
          ])}
        />
      )}
      {open && keys.data && (
        <Table
          caption={t('sources.keys')}
          empty={t('sources.noKeys')}
          head={[t('sources.prefix'), t('tags.createdAt'), t('sources.revokedAt'), '']}
          rows={keys.data.map((k) => [
            <code key="p">{k.prefix}…</code>,
            <Time key="c" value={k.createdAt} />,
            <Time key="r" value={k.revokedAt} />,
            k.revokedAt ? (
              ''
            ) : (
              <button key="b" type="button" className="small secondary" onClick={() => revoke(k)}>
                {t('sources.revoke')}
              </button>
            ),
          ])}
        />
      )}
    </section>
  );
}
