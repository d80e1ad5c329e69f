/**
 * The purpose form: before any personal data is shown, the user states the purpose, the
 * reason and (where the purpose requires one) the incident, for a window of time. The gate
 * decides and writes the logbook entry; the form only collects what the gate asks for.
 * Reused by every screen that reads personal data (door events now; footage and export later).
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { useI18n } from '../i18n';
import { formatTime, isoToLocalInput, localInputToIso } from '../lib/time';
import type { PurposePermission } from '../lib/session';
import { api } from '../lib/api';
import { Articles, useLoad } from './common';

export interface PurposeAnswer {
  purpose: string;
  reason: string;
  incidentId?: string;
  requestId?: string;
  from: string;
  to: string;
}

export function PurposeForm({
  idPrefix,
  purposes,
  defaultHours = 24,
  busy,
  submitLabel,
  onSubmit,
  children,
}: {
  idPrefix: string;
  purposes: PurposePermission[];
  defaultHours?: number;
  busy: boolean;
  submitLabel: string;
  onSubmit: (answer: PurposeAnswer) => void;
  /** The scope fields (tag, doors, cameras) of the screen. */
  children?: ReactNode;
}) {
  const { t, language } = useI18n();
  const now = Date.now();
  const [purpose, setPurpose] = useState(purposes[0]?.id ?? '');
  const [reason, setReason] = useState('');
  const [incidentId, setIncidentId] = useState('');
  const [from, setFrom] = useState(isoToLocalInput(now - defaultHours * 3_600_000));
  const [to, setTo] = useState(isoToLocalInput(now));
  const [problem, setProblem] = useState<string | null>(null);
  const rule = purposes.find((p) => p.id === purpose);
  const needsIncident = rule?.requires === 'incident' || rule?.requires === 'calamity-incident';
  const needsRequest = rule?.requires === 'request';
  const id = (name: string) => `${idPrefix}-${name}`;
  // Open incidents as a picker; a user who may not list incidents types the number instead.
  const openIncidents = useLoad(
    () =>
      needsIncident
        ? api<{ items: { id: string; title: string; occurredAt: string }[] }>('GET', '/incidents?status=open').then(
            (r) => r.items,
          )
        : Promise.resolve(null),
    [needsIncident],
  );
  const incidentChoices = needsIncident && !openIncidents.error ? openIncidents.data : null;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const fromIso = localInputToIso(from);
    const toIso = localInputToIso(to);
    if (!fromIso || !toIso || fromIso >= toIso) {
      setProblem(t('purpose.windowInvalid'));
      return;
    }
    setProblem(null);
    onSubmit({
      purpose,
      reason: reason.trim(),
      from: fromIso,
      to: toIso,
      ...(needsIncident && incidentId.trim() ? { incidentId: incidentId.trim() } : {}),
      ...(needsRequest && incidentId.trim() ? { requestId: incidentId.trim() } : {}),
    });
  };

  return (
    <form onSubmit={submit} className="purpose-form">
      <div className="field">
        <label htmlFor={id('purpose')}>{t('purpose.purpose')}</label>
        <select id={id('purpose')} value={purpose} onChange={(e) => setPurpose(e.target.value)}>
          {purposes.map((p) => (
            <option key={p.id} value={p.id}>
              {p.label[language]}
            </option>
          ))}
        </select>
        {rule && (
          <p className="hint">
            {rule.fourEyes && <>{t('purpose.fourEyes')} </>}
            {rule.maxLookback && <>{t('purpose.maxLookback', { period: rule.maxLookback })} </>}
            <Articles articles={rule.articles} />
          </p>
        )}
      </div>
      {children}
      <div className="row">
        <div className="field">
          <label htmlFor={id('from')}>{t('purpose.from')}</label>
          <input
            id={id('from')}
            type="datetime-local"
            required
            value={from}
            onChange={(e) => setFrom(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={id('to')}>{t('purpose.to')}</label>
          <input id={id('to')} type="datetime-local" required value={to} onChange={(e) => setTo(e.target.value)} />
        </div>
      </div>
      <p className="hint">{t('purpose.timeZone')}</p>
      {(needsIncident || needsRequest) && (
        <div className="field">
          <label htmlFor={id('incident')}>{needsRequest ? t('purpose.request') : t('purpose.incident')}</label>
          {incidentChoices ? (
            <select id={id('incident')} required value={incidentId} onChange={(e) => setIncidentId(e.target.value)}>
              <option value="">{t('common.choose')}</option>
              {incidentChoices.map((incident) => (
                <option key={incident.id} value={incident.id}>
                  {incident.title} ({formatTime(incident.occurredAt, language)})
                </option>
              ))}
            </select>
          ) : (
            <input id={id('incident')} required value={incidentId} onChange={(e) => setIncidentId(e.target.value)} />
          )}
        </div>
      )}
      <div className="field">
        <label htmlFor={id('reason')}>{t('purpose.reason')}</label>
        <textarea
          id={id('reason')}
          required
          maxLength={2000}
          rows={3}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
        />
        <p className="hint">{t('purpose.reasonHint')}</p>
      </div>
      {problem && (
        <p role="alert" className="error">
          {problem}
        </p>
      )}
      <button disabled={busy || !purpose}>{submitLabel}</button>
    </form>
  );
}
