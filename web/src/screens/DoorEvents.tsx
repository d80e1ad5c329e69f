import { useState } from 'react';
import { ErrorMessage, Loading, Notice, Time, useAction, useLoad } from '../components/common';
import { FindingForm } from '../components/FindingForm';
import { PurposeForm, type PurposeAnswer } from '../components/PurposeForm';
import { Table } from '../components/table';
import { useI18n, type MessageKey } from '../i18n';
import { api } from '../lib/api';
import { useSignedIn } from '../lib/session';

interface Door {
  id: string;
  name: string;
  code: string;
}
interface Issued {
  status: 'granted';
  token: string;
  grantId: string;
  entryId: string;
  expiresAt: string;
}
interface Pending {
  status: 'pending';
  requestId: string;
}
interface EventView {
  occurredAt: string;
  doorCode: string;
  doorName: string;
  tag: string;
  result: string;
}
interface AccessRequest {
  id: string;
  requesterLabel: string;
  requesterId: string;
  purpose: string;
  scope: { doorIds?: string[]; tag?: string };
  from: string;
  to: string;
  reason: string;
  incidentId: string | null;
  status: string;
  createdAt: string;
}

const GRANT_HEADER = 'x-protocam-grant';

/**
 * Door events are read only through the gate (M 3.5, M 3.6): the purpose form first, then
 * the query with the grant it issued, then the user's finding on the logbook entry.
 */
export function DoorEventsScreen() {
  const { t } = useI18n();
  const { permissions } = useSignedIn();
  const tagCheck = permissions.purposes.filter((p) => p.id === 'tag-function-check');
  const witness = permissions.purposes.filter((p) => p.id === 'calamity-witness-search');
  const doors = useLoad(() => api<{ items: Door[] }>('GET', '/doors?limit=500').then((page) => page.items), []);
  return (
    <section aria-labelledby="door-events-title">
      <h1 id="door-events-title">{t('doorEvents.title')}</h1>
      <p className="muted">{t('doorEvents.intro')}</p>
      <ErrorMessage error={doors.error} />
      {tagCheck.length > 0 && <TagCheck doors={doors.data ?? []} purposes={tagCheck} />}
      {witness.length > 0 && <WitnessSearch doors={doors.data ?? []} purposes={witness} />}
      <AccessRequests />
    </section>
  );
}

function TagCheck({
  doors,
  purposes,
}: {
  doors: Door[];
  purposes: ReturnType<typeof useSignedIn>['permissions']['purposes'];
}) {
  const { t } = useI18n();
  const action = useAction();
  const [by, setBy] = useState<'tag' | 'door'>('tag');
  const [tag, setTag] = useState('');
  const [doorId, setDoorId] = useState('');
  const [result, setResult] = useState<{ entryId: string; events: EventView[]; truncated: boolean } | null>(null);

  const submit = (answer: PurposeAnswer) =>
    void action.run(async () => {
      setResult(null);
      const scope = by === 'tag' ? { tag: tag.trim() } : { doorIds: [doorId] };
      const issued = await api<Issued>('POST', '/access/requests', {
        category: 'door-events',
        purpose: answer.purpose,
        scope,
        window: { from: answer.from, to: answer.to },
        reason: answer.reason,
      });
      const params = new URLSearchParams(by === 'tag' ? { tag: tag.trim() } : { doorId });
      const data = await api<{ events: EventView[]; truncated: boolean }>(
        'GET',
        `/door-events/tag-check?${params.toString()}`,
        undefined,
        { headers: { [GRANT_HEADER]: issued.token } },
      );
      setResult({ entryId: issued.entryId, events: data.events, truncated: data.truncated });
    });

  return (
    <section aria-labelledby="tag-check-title" className="panel">
      <h2 id="tag-check-title">{t('tagCheck.title')}</h2>
      <p>{t('tagCheck.intro')}</p>
      <PurposeForm
        idPrefix="tag-check"
        purposes={purposes}
        busy={action.busy}
        submitLabel={t('tagCheck.submit')}
        onSubmit={submit}
      >
        <fieldset>
          <legend>{t('tagCheck.by')}</legend>
          <label className="check">
            <input type="radio" name="tag-check-by" checked={by === 'tag'} onChange={() => setBy('tag')} />
            {t('tagCheck.byTag')}
          </label>
          <label className="check">
            <input type="radio" name="tag-check-by" checked={by === 'door'} onChange={() => setBy('door')} />
            {t('tagCheck.byDoor')}
          </label>
        </fieldset>
        {by === 'tag' ? (
          <div className="field">
            <label htmlFor="tag-check-tag">{t('tagCheck.tag')}</label>
            <input
              id="tag-check-tag"
              required
              pattern="[A-Za-z0-9:_\-]{1,64}"
              value={tag}
              onChange={(e) => setTag(e.target.value)}
            />
          </div>
        ) : (
          <div className="field">
            <label htmlFor="tag-check-door">{t('tagCheck.door')}</label>
            <select id="tag-check-door" required value={doorId} onChange={(e) => setDoorId(e.target.value)}>
              <option value="">{t('common.choose')}</option>
              {doors.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.name} ({d.code})
                </option>
              ))}
            </select>
          </div>
        )}
      </PurposeForm>
      <ErrorMessage error={action.error} />
      {result && (
        <div className="result">
          <Notice>{t('doorEvents.logged')}</Notice>
          <Events events={result.events} caption={t('tagCheck.results')} />
          {result.truncated && <p className="muted">{t('tagCheck.truncated')}</p>}
          <FindingForm entryId={result.entryId} />
        </div>
      )}
    </section>
  );
}

function Events({ events, caption }: { events: EventView[]; caption: string }) {
  const { t, tOr } = useI18n();
  return (
    <Table
      caption={caption}
      empty={t('tagCheck.none')}
      head={[t('doorEvents.time'), t('doorEvents.door'), t('doorEvents.tag'), t('doorEvents.result')]}
      rows={events.map((e) => [
        <Time key="t" value={e.occurredAt} seconds />,
        `${e.doorName} (${e.doorCode})`,
        e.tag,
        tOr(`doorEvents.result.${e.result}`, e.result),
      ])}
    />
  );
}

function WitnessSearch({
  doors,
  purposes,
}: {
  doors: Door[];
  purposes: ReturnType<typeof useSignedIn>['permissions']['purposes'];
}) {
  const { t } = useI18n();
  const action = useAction();
  const [selected, setSelected] = useState<string[]>([]);
  const [pending, setPending] = useState<string | null>(null);
  const submit = (answer: PurposeAnswer) =>
    void action.run(async () => {
      setPending(null);
      const outcome = await api<Issued | Pending>('POST', '/access/requests', {
        category: 'door-events',
        purpose: answer.purpose,
        scope: { doorIds: selected },
        window: { from: answer.from, to: answer.to },
        reason: answer.reason,
        ...(answer.incidentId ? { incidentId: answer.incidentId } : {}),
      });
      setPending(outcome.status === 'pending' ? outcome.requestId : null);
    });
  return (
    <section aria-labelledby="witness-title" className="panel">
      <h2 id="witness-title">{t('witness.title')}</h2>
      <p>{t('witness.intro')}</p>
      <PurposeForm
        idPrefix="witness"
        purposes={purposes}
        busy={action.busy}
        submitLabel={t('witness.submit')}
        onSubmit={submit}
        defaultHours={2}
      >
        <fieldset>
          <legend>{t('witness.doors')}</legend>
          {doors.map((d) => (
            <label key={d.id} className="check">
              <input
                type="checkbox"
                checked={selected.includes(d.id)}
                onChange={(e) =>
                  setSelected(e.target.checked ? [...selected, d.id] : selected.filter((x) => x !== d.id))
                }
              />
              {d.name} ({d.code})
            </label>
          ))}
        </fieldset>
      </PurposeForm>
      <ErrorMessage error={action.error} />
      {pending && <Notice>{t('witness.pending')}</Notice>}
    </section>
  );
}

/** Four-eyes requests: the requester collects the grant; a user with approve-access decides. */
function AccessRequests() {
  const { t, language } = useI18n();
  const { session, permissions } = useSignedIn();
  const list = useLoad(
    () => api<{ items: AccessRequest[] }>('GET', '/access/requests?limit=50').then((r) => r.items),
    [],
  );
  const action = useAction();
  const [witnesses, setWitnesses] = useState<{
    entryId: string;
    items: { tag: string; holder: { reference: string; kind: string; name: string; contact: string | null } | null }[];
  } | null>(null);
  const approver = permissions.capabilities.includes('approve-access');
  const label = (purpose: string) => permissions.purposes.find((p) => p.id === purpose)?.label[language] ?? purpose;

  const decide = (request: AccessRequest, approve: boolean) =>
    void action.run(async () => {
      if (approve) await api('POST', `/access/requests/${request.id}/approve`);
      else await api('POST', `/access/requests/${request.id}/reject`, { note: t('requests.rejectNote') });
      await list.reload();
    });

  const collect = (request: AccessRequest) =>
    void action.run(async () => {
      const issued = await api<Issued>('POST', `/access/requests/${request.id}/grant`);
      const data = await api<{ witnesses: NonNullable<typeof witnesses>['items'] }>(
        'POST',
        '/door-events/witness-search',
        { doorIds: request.scope.doorIds ?? [], from: request.from, to: request.to },
        { headers: { [GRANT_HEADER]: issued.token } },
      );
      setWitnesses({ entryId: issued.entryId, items: data.witnesses });
      await list.reload();
    });

  if (!list.data || list.data.length === 0) return <Loading loading={list.loading} />;
  return (
    <section aria-labelledby="requests-title" className="panel">
      <h2 id="requests-title">{t('requests.title')}</h2>
      <ErrorMessage error={action.error} />
      <Table
        caption={t('requests.title')}
        head={[
          t('requests.created'),
          t('requests.requester'),
          t('purpose.purpose'),
          t('purpose.reason'),
          t('requests.status'),
          '',
        ]}
        rows={list.data.map((r) => [
          <Time key="c" value={r.createdAt} />,
          r.requesterLabel,
          label(r.purpose),
          r.reason,
          t(`requests.status.${r.status}` as MessageKey),
          <span key="a" className="actions">
            {r.status === 'pending' && approver && r.requesterId !== session.user.id && (
              <>
                <button type="button" className="small" onClick={() => decide(r, true)}>
                  {t('requests.approve')}
                </button>
                <button type="button" className="small secondary" onClick={() => decide(r, false)}>
                  {t('requests.reject')}
                </button>
              </>
            )}
            {r.status === 'approved' && r.requesterId === session.user.id && (
              <button type="button" className="small" onClick={() => collect(r)}>
                {t('requests.collect')}
              </button>
            )}
          </span>,
        ])}
      />
      {witnesses && (
        <div className="result">
          <Notice>{t('doorEvents.logged')}</Notice>
          <Table
            caption={t('witness.results')}
            empty={t('witness.none')}
            head={[t('doorEvents.tag'), t('witness.holder'), t('witness.contact')]}
            rows={witnesses.items.map((w) => [
              w.tag,
              w.holder ? `${w.holder.name} (${w.holder.reference})` : t('witness.notIssued'),
              w.holder?.contact ?? '–',
            ])}
          />
          <FindingForm entryId={witnesses.entryId} />
        </div>
      )}
    </section>
  );
}
