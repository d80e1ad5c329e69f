import { useState, type FormEvent } from 'react';
import { useI18n } from '../i18n';
import { api } from '../lib/api';
import { ErrorMessage, Notice, useAction } from './common';

/** The finding (constatering, M 6.4) of the user who consulted the data, on their logbook entry. */
export function FindingForm({ entryId, onDone }: { entryId: string; onDone?: () => void }) {
  const { t } = useI18n();
  const action = useAction();
  const [text, setText] = useState('');
  const [saved, setSaved] = useState(false);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      await api('POST', `/logbook/${encodeURIComponent(entryId)}/finding`, { text: text.trim() });
      setSaved(true);
      onDone?.();
    });
  };
  if (saved) return <Notice>{t('finding.saved')}</Notice>;
  const id = `finding-${entryId}`;
  return (
    <form onSubmit={submit} className="finding-form">
      <label htmlFor={id}>{t('finding.label')}</label>
      <textarea id={id} required maxLength={4000} rows={3} value={text} onChange={(e) => setText(e.target.value)} />
      <p className="hint">{t('finding.hint')}</p>
      <button disabled={action.busy}>{t('finding.submit')}</button>
      <ErrorMessage error={action.error} />
    </form>
  );
}
