import { useState, type FormEvent } from 'react';
import { ErrorMessage, Loading, Notice, Time, useAction, useLoad } from '../components/common';
import { Table } from '../components/table';
import { useI18n } from '../i18n';
import { api, ApiError, upload } from '../lib/api';

interface Source {
  id: string;
  name: string;
  kind: 'http' | 'csv' | 'mqtt';
  doorScope: string[];
  csvMapping: CsvMappingView | null;
  counters: { received: number; accepted: number; rejected: number; late: number; duplicate: number };
  createdAt: string;
}
interface CsvMappingView {
  sourceEventId: string;
  occurredAt: string;
  door: string;
  tag: string;
  result: string;
  timeFormat: string;
  timeZone: string;
  delimiter: string;
}

/** The CSV mapping fields the form edits, in form order; each is a text input. */
const MAPPING_COLUMNS = ['sourceEventId', 'occurredAt', 'door', 'tag', 'result'] as const;
type MappingForm = Record<(typeof MAPPING_COLUMNS)[number] | 'timeFormat' | 'timeZone' | 'delimiter', string>;
const EMPTY_MAPPING: MappingForm = {
  sourceEventId: '',
  occurredAt: '',
  door: '',
  tag: '',
  result: '',
  timeFormat: '',
  timeZone: '',
  delimiter: '',
};
/** Placeholders: the server's defaults for the optional fields, typical header names for the columns. */
const MAPPING_PLACEHOLDERS: MappingForm = {
  sourceEventId: 'id',
  occurredAt: 'occurred_at',
  door: 'door',
  tag: 'tag',
  result: 'result',
  timeFormat: 'iso-offset',
  timeZone: 'Europe/Amsterdam',
  delimiter: ',',
};
const TIME_FORMATS = ['iso-offset', 'local-ymd', 'local-dmy'];
const DELIMITERS: Record<string, string> = { ',': ',', ';': ';', tab: '\t' };

/** The mapping as the API takes it: empty optional fields are left out so the server's defaults apply. */
function mappingBody(form: MappingForm): Record<string, string> {
  const body: Record<string, string> = {};
  for (const column of MAPPING_COLUMNS) body[column] = form[column].trim();
  if (form.timeFormat.trim()) body.timeFormat = form.timeFormat.trim();
  if (form.timeZone.trim()) body.timeZone = form.timeZone.trim();
  const delimiter = form.delimiter.trim();
  if (delimiter) body.delimiter = DELIMITERS[delimiter.toLowerCase()] ?? delimiter;
  return body;
}

function mappingForm(mapping: CsvMappingView): MappingForm {
  return {
    sourceEventId: mapping.sourceEventId,
    occurredAt: mapping.occurredAt,
    door: mapping.door,
    tag: mapping.tag,
    result: mapping.result,
    timeFormat: mapping.timeFormat,
    timeZone: mapping.timeZone,
    delimiter: mapping.delimiter === '\t' ? 'tab' : mapping.delimiter,
  };
}

/**
 * Server validation problems by field, without the `body.` prefix of route validation
 * (e.g. `csvMapping.timeZone` -> `unknown time zone`), so each is shown at its input.
 */
function fieldErrors(error: unknown): Record<string, string> {
  if (!(error instanceof ApiError) || error.code !== 'validation-failed') return {};
  const issues = (error.details as { issues?: { field: string; message: string }[] } | undefined)?.issues ?? [];
  const byField: Record<string, string> = {};
  for (const issue of issues) {
    const field = issue.field.replace(/^body\.?/, '');
    byField[field] = byField[field] ? `${byField[field]}; ${issue.message}` : issue.message;
  }
  return byField;
}

/** The server error of one field, shown under its input and linked to it by aria-describedby. */
function FieldError({ id, message }: { id: string; message: string | undefined }) {
  const { t } = useI18n();
  if (!message) return null;
  return (
    <p id={id} className="field-error">
      {t('sources.fieldInvalid', { message })}
    </p>
  );
}

/** The inputs of a CSV column mapping, shared by the new-source form and the mapping editor. */
function MappingFields({
  idPrefix,
  value,
  onChange,
  errors,
}: {
  idPrefix: string;
  value: MappingForm;
  onChange: (next: MappingForm) => void;
  errors: Record<string, string>;
}) {
  const { t } = useI18n();
  const fields = [...MAPPING_COLUMNS, 'timeFormat', 'timeZone', 'delimiter'] as const;
  return (
    <fieldset>
      <legend>{t('sources.mapping')}</legend>
      <p className="muted">{t('sources.mappingHelp')}</p>
      {fields.map((field) => {
        const id = `${idPrefix}-${field}`;
        const error = errors[`csvMapping.${field}`] ?? (field === 'sourceEventId' ? errors.csvMapping : undefined);
        return (
          <div className="field" key={field}>
            <label htmlFor={id}>{t(`sources.mapping.${field}`)}</label>
            <input
              id={id}
              required={(MAPPING_COLUMNS as readonly string[]).includes(field)}
              placeholder={MAPPING_PLACEHOLDERS[field]}
              list={field === 'timeFormat' ? `${idPrefix}-time-formats` : undefined}
              value={value[field]}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? `${id}-error` : undefined}
              onChange={(e) => onChange({ ...value, [field]: e.target.value })}
            />
            <FieldError id={`${id}-error`} message={error} />
          </div>
        );
      })}
      <datalist id={`${idPrefix}-time-formats`}>
        {TIME_FORMATS.map((f) => (
          <option key={f} value={f} />
        ))}
      </datalist>
    </fieldset>
  );
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
  const [mapping, setMapping] = useState<MappingForm>(EMPTY_MAPPING);
  const [editFor, setEditFor] = useState<Source | null>(null);
  const errors = fieldErrors(action.error);
  const [newKey, setNewKey] = useState<{ source: string; key: string } | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const keys = useLoad(
    () => (open ? api<ApiKey[]>('GET', `/door-event-sources/${open}/api-keys`) : Promise.resolve(null)),
    [open],
  );
  const [notice, setNotice] = useState<string | null>(null);
  const [importFor, setImportFor] = useState<Source | null>(null);

  const add = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const body = form.kind === 'csv' ? { ...form, csvMapping: mappingBody(mapping) } : form;
      const created = await api<Source>('POST', '/door-event-sources', body);
      setNotice(t('common.saved', { name: created.name }));
      setForm({ name: '', kind: 'http', doorScope: [] });
      setMapping(EMPTY_MAPPING);
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
              aria-invalid={errors.name ? true : undefined}
              aria-describedby={errors.name ? 'source-name-error' : undefined}
              onChange={(e) => setForm({ ...form, name: e.target.value })}
            />
            <FieldError id="source-name-error" message={errors.name} />
          </div>
          <div className="field">
            <label htmlFor="source-kind">{t('sources.kind')}</label>
            <select id="source-kind" value={form.kind} onChange={(e) => setForm({ ...form, kind: e.target.value })}>
              <option value="http">HTTP</option>
              <option value="mqtt">MQTT</option>
              <option value="csv">CSV</option>
            </select>
          </div>
          {form.kind === 'csv' && (
            <MappingFields idPrefix="source-mapping" value={mapping} onChange={setMapping} errors={errors} />
          )}
          <fieldset aria-describedby={errors.doorScope ? 'source-doors-error' : undefined}>
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
            <FieldError id="source-doors-error" message={errors.doorScope} />
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
              {s.csvMapping && (
                <button type="button" className="small secondary" onClick={() => setImportFor(s)}>
                  {t('sources.import')}
                </button>
              )}
              {s.kind === 'csv' && (
                <button type="button" className="small secondary" onClick={() => setEditFor(s)}>
                  {t('sources.editMapping')}
                </button>
              )}
              {s.kind !== 'csv' && (
                <button type="button" className="small" onClick={() => issueKey(s)}>
                  {t('sources.newKey')}
                </button>
              )}
            </span>,
          ])}
        />
      )}
      {editFor && (
        <MappingEditor
          key={editFor.id}
          source={editFor}
          onDone={(updated) => {
            setEditFor(null);
            setNotice(t('common.saved', { name: updated.name }));
            if (importFor?.id === updated.id) setImportFor(updated);
            void sources.reload();
          }}
        />
      )}
      {importFor && <CsvImport key={importFor.id} source={importFor} onDone={() => void sources.reload()} />}
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

/** Changes the column mapping of an existing CSV source (PATCH, audited by the server). */
function MappingEditor({ source, onDone }: { source: Source; onDone: (updated: Source) => void }) {
  const { t } = useI18n();
  const action = useAction();
  const [value, setValue] = useState<MappingForm>(source.csvMapping ? mappingForm(source.csvMapping) : EMPTY_MAPPING);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      onDone(await api<Source>('PATCH', `/door-event-sources/${source.id}`, { csvMapping: mappingBody(value) }));
    });
  };
  return (
    <section aria-labelledby="mapping-edit-title" className="form-panel">
      <h2 id="mapping-edit-title">{t('sources.editMappingTitle', { source: source.name })}</h2>
      <form onSubmit={submit}>
        <MappingFields idPrefix="edit-mapping" value={value} onChange={setValue} errors={fieldErrors(action.error)} />
        <button disabled={action.busy}>{t('common.save')}</button>
      </form>
      <ErrorMessage error={action.error} />
    </section>
  );
}

interface ImportResult {
  received: number;
  accepted: number;
  duplicates: number;
  late: number;
  rejected: { index: number; line: number; reason: string }[];
}

/**
 * CSV import of door events for a source with a column mapping: the upload shows its progress, then
 * the server's counts and every rejected line with its reason.
 */
function CsvImport({ source, onDone }: { source: Source; onDone: () => void }) {
  const { t, tOr } = useI18n();
  const action = useAction();
  const [file, setFile] = useState<File | null>(null);
  const [sent, setSent] = useState<number | null>(null);
  const [result, setResult] = useState<ImportResult | null>(null);
  const mapping = source.csvMapping!;
  const columns = [mapping.sourceEventId, mapping.occurredAt, mapping.door, mapping.tag, mapping.result].join(', ');

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    setResult(null);
    setSent(0);
    void action.run(async () => {
      try {
        setResult(await upload<ImportResult>(`/door-event-sources/${source.id}/import`, file, 'text/csv', setSent));
        onDone();
      } finally {
        setSent(null);
      }
    });
  };

  return (
    <section aria-labelledby="csv-import-title" className="form-panel">
      <h2 id="csv-import-title">{t('sources.importTitle', { source: source.name })}</h2>
      <p className="muted">{t('sources.importColumns', { columns })}</p>
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor="csv-file">{t('sources.importFile')}</label>
          <input
            id="csv-file"
            type="file"
            accept=".csv,text/csv"
            required
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
          />
        </div>
        <button disabled={action.busy || !file}>{t('sources.importStart')}</button>
      </form>
      {sent !== null && (
        <div className="result">
          <label htmlFor="csv-progress">{t(sent < 1 ? 'sources.importUploading' : 'sources.importProcessing')}</label>{' '}
          <progress id="csv-progress" max={1} value={sent} />
        </div>
      )}
      <ErrorMessage error={action.error} />
      {result && (
        <div role="status" className="notice" data-testid="csv-import-result">
          <p>
            {t('sources.importResult', {
              received: result.received,
              accepted: result.accepted,
              duplicates: result.duplicates,
              late: result.late,
              rejected: result.rejected.length,
            })}
          </p>
        </div>
      )}
      {result && result.rejected.length > 0 && (
        <Table
          caption={t('sources.importRejected')}
          head={[t('sources.importLine'), t('sources.importReason')]}
          rows={result.rejected.map((r) => [String(r.line), tOr(`sources.reason.${r.reason}`, r.reason)])}
        />
      )}
    </section>
  );
}
