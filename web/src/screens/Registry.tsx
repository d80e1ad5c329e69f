import { useState, type FormEvent, type ReactNode } from 'react';
import {
  ErrorMessage,
  Loading,
  Notice,
  RefusalList,
  Time,
  YesNo,
  useAction,
  useLoad,
  type Refusal,
} from '../components/common';
import { Pager, Table } from '../components/table';
import { useI18n, type MessageKey } from '../i18n';
import { api, query } from '../lib/api';
import { navigate, useLocation } from '../lib/router';
import { useSignedIn } from '../lib/session';

interface Page<T> {
  items: T[];
  nextOffset: number | null;
}
interface Complex {
  id: string;
  code: string | null;
  name: string;
  address: string | null;
  ownership: string;
}
interface Building {
  id: string;
  complexId: string;
  name: string;
  address: string | null;
}
interface Entrance {
  id: string;
  buildingId: string;
  name: string;
  isGeneralEntrance: boolean;
  signPresent: boolean;
}
interface Door {
  id: string;
  buildingId: string;
  name: string;
  code: string;
  location: string | null;
}
interface Placement {
  insideDwelling: boolean;
  aimedAtFrontDoor: boolean;
  aimedAtWorkplace: boolean;
  showsPublicRoad: boolean;
  outdoor: boolean;
}
export interface Camera {
  id: string;
  buildingId: string;
  name: string;
  location: string | null;
  kind: 'real' | 'dummy' | 'hidden';
  goals: string[];
  placement: Placement;
  streamUrlSet: boolean;
  streamHost: string | null;
  connectionSecured: boolean;
  status: 'inactive' | 'active';
  activatedAt: string | null;
}

const TABS = ['complexes', 'buildings', 'entrances', 'cameras', 'doors'] as const;
type Tab = (typeof TABS)[number];
const PAGE = 50;

const OWNERSHIPS = ['corporation', 'vve', 'commercial', 'social'] as const;
const GOALS = [
  'protect-persons',
  'protect-property',
  'protect-buildings',
  'record-incidents',
  'feeling-of-safety',
  'recover-damage',
] as const;
const PLACEMENT_FLAGS = [
  ['insideDwelling', 'insideDwellingReason'],
  ['aimedAtFrontDoor', 'frontDoorReason'],
  ['aimedAtWorkplace', 'workplaceReason'],
  ['showsPublicRoad', 'publicRoadReason'],
  ['outdoor', 'outdoorReason'],
] as const;

export function RegistryScreen() {
  const { t } = useI18n();
  const location = useLocation();
  const tab: Tab = (TABS as readonly string[]).includes(location.params.get('tab') ?? '')
    ? (location.params.get('tab') as Tab)
    : 'cameras';
  return (
    <section aria-labelledby="registry-title">
      <h1 id="registry-title">{t('registry.title')}</h1>
      <p className="muted">{t('registry.intro')}</p>
      <div className="tabs" role="tablist" aria-label={t('registry.title')}>
        {TABS.map((name) => (
          <button
            key={name}
            type="button"
            role="tab"
            aria-selected={tab === name}
            onClick={() => navigate(`/registry?tab=${name}`, { replace: true })}
          >
            {t(`registry.tab.${name}` as MessageKey)}
          </button>
        ))}
      </div>
      <div role="tabpanel">
        {tab === 'complexes' && <Complexes />}
        {tab === 'buildings' && <Buildings />}
        {tab === 'entrances' && <Entrances />}
        {tab === 'cameras' && <Cameras />}
        {tab === 'doors' && <Doors />}
      </div>
    </section>
  );
}

function usePaged<T>(path: string, extra: Record<string, string | undefined> = {}) {
  const [offset, setOffset] = useState(0);
  const key = JSON.stringify(extra);
  const load = useLoad(
    () => api<Page<T>>('GET', `${path}${query({ ...extra, limit: PAGE, offset })}`),
    [path, key, offset],
  );
  return { ...load, offset, setOffset };
}

function useAll<T>(path: string) {
  return useLoad(() => api<Page<T>>('GET', `${path}?limit=500`).then((page) => page.items), [path]);
}

function Field({ id, label, children }: { id: string; label: string; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
    </div>
  );
}

function AdminForm({
  title,
  children,
  onSubmit,
  busy,
  error,
  done,
}: {
  title: string;
  children: ReactNode;
  onSubmit: () => void;
  busy: boolean;
  error: unknown;
  done: string | null;
}) {
  const { t } = useI18n();
  const { permissions } = useSignedIn();
  if (!permissions.admin) return null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit();
  };
  return (
    <details className="form-panel">
      <summary>{title}</summary>
      <form onSubmit={submit}>
        {children}
        <button disabled={busy}>{t('common.save')}</button>
        <ErrorMessage error={error} />
        {done && <Notice>{done}</Notice>}
      </form>
    </details>
  );
}

function Complexes() {
  const { t } = useI18n();
  const list = usePaged<Complex>('/complexes');
  const action = useAction();
  const [done, setDone] = useState<string | null>(null);
  const [form, setForm] = useState({ name: '', code: '', address: '', ownership: 'corporation' });
  const save = () =>
    void action.run(async () => {
      const created = await api<Complex>('POST', '/complexes', {
        name: form.name,
        ownership: form.ownership,
        ...(form.code ? { code: form.code } : {}),
        ...(form.address ? { address: form.address } : {}),
      });
      setDone(t('common.saved', { name: created.name }));
      setForm({ name: '', code: '', address: '', ownership: 'corporation' });
      await list.reload();
    });
  return (
    <>
      <AdminForm title={t('registry.newComplex')} onSubmit={save} busy={action.busy} error={action.error} done={done}>
        <Field id="complex-name" label={t('registry.name')}>
          <input
            id="complex-name"
            required
            value={form.name}
            onChange={(e) => setForm({ ...form, name: e.target.value })}
          />
        </Field>
        <Field id="complex-code" label={t('registry.code')}>
          <input id="complex-code" value={form.code} onChange={(e) => setForm({ ...form, code: e.target.value })} />
        </Field>
        <Field id="complex-address" label={t('registry.address')}>
          <input
            id="complex-address"
            value={form.address}
            onChange={(e) => setForm({ ...form, address: e.target.value })}
          />
        </Field>
        <Field id="complex-ownership" label={t('registry.ownership')}>
          <select
            id="complex-ownership"
            value={form.ownership}
            onChange={(e) => setForm({ ...form, ownership: e.target.value })}
          >
            {OWNERSHIPS.map((o) => (
              <option key={o} value={o}>
                {t(`ownership.${o}` as MessageKey)}
              </option>
            ))}
          </select>
        </Field>
      </AdminForm>
      <Loading loading={list.loading} />
      <ErrorMessage error={list.error} />
      {list.data && (
        <Table
          caption={t('registry.tab.complexes')}
          head={[t('registry.name'), t('registry.code'), t('registry.address'), t('registry.ownership')]}
          rows={list.data.items.map((c) => [
            c.name,
            c.code ?? '–',
            c.address ?? '–',
            t(`ownership.${c.ownership}` as MessageKey),
          ])}
        />
      )}
      <Pager offset={list.offset} size={PAGE} next={list.data?.nextOffset ?? null} onChange={list.setOffset} />
    </>
  );
}

function Buildings() {
  const { t } = useI18n();
  const list = usePaged<Building>('/buildings');
  const complexes = useAll<Complex>('/complexes');
  const action = useAction();
  const [done, setDone] = useState<string | null>(null);
  const [form, setForm] = useState({ complexId: '', name: '', address: '' });
  const complexName = (id: string) => complexes.data?.find((c) => c.id === id)?.name ?? id;
  const save = () =>
    void action.run(async () => {
      const created = await api<Building>('POST', '/buildings', {
        complexId: form.complexId,
        name: form.name,
        ...(form.address ? { address: form.address } : {}),
      });
      setDone(t('common.saved', { name: created.name }));
      setForm({ ...form, name: '', address: '' });
      await list.reload();
    });
  return (
    <>
      <AdminForm title={t('registry.newBuilding')} onSubmit={save} busy={action.busy} error={action.error} done={done}>
        <Field id="building-complex" label={t('registry.complex')}>
          <select
            id="building-complex"
            required
            value={form.complexId}
            onChange={(e) => setForm({ ...form, complexId: e.target.value })}
          >
            <option value="">{t('common.choose')}</option>
            {complexes.data?.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </Field>
        <Field id="building-name" label={t('registry.name')}>
          <input
            id="building-name"
            required
            value={form.name}
            onChange={(e) => setForm({ ...form, name: e.target.value })}
          />
        </Field>
        <Field id="building-address" label={t('registry.address')}>
          <input
            id="building-address"
            value={form.address}
            onChange={(e) => setForm({ ...form, address: e.target.value })}
          />
        </Field>
      </AdminForm>
      <Loading loading={list.loading} />
      <ErrorMessage error={list.error} />
      {list.data && (
        <Table
          caption={t('registry.tab.buildings')}
          head={[t('registry.name'), t('registry.complex'), t('registry.address')]}
          rows={list.data.items.map((b) => [b.name, complexName(b.complexId), b.address ?? '–'])}
        />
      )}
      <Pager offset={list.offset} size={PAGE} next={list.data?.nextOffset ?? null} onChange={list.setOffset} />
    </>
  );
}

function BuildingSelect({
  id,
  value,
  onChange,
  buildings,
}: {
  id: string;
  value: string;
  onChange: (value: string) => void;
  buildings: Building[] | null;
}) {
  const { t } = useI18n();
  return (
    <select id={id} required value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="">{t('common.choose')}</option>
      {buildings?.map((b) => (
        <option key={b.id} value={b.id}>
          {b.name}
        </option>
      ))}
    </select>
  );
}

function Entrances() {
  const { t } = useI18n();
  const { permissions } = useSignedIn();
  const list = usePaged<Entrance>('/entrances');
  const buildings = useAll<Building>('/buildings');
  const action = useAction();
  const [done, setDone] = useState<string | null>(null);
  const [form, setForm] = useState({ buildingId: '', name: '', isGeneralEntrance: true, signPresent: false });
  const buildingName = (id: string) => buildings.data?.find((b) => b.id === id)?.name ?? id;
  const save = () =>
    void action.run(async () => {
      const created = await api<Entrance>('POST', '/entrances', form);
      setDone(t('common.saved', { name: created.name }));
      setForm({ ...form, name: '' });
      await list.reload();
    });
  const toggleSign = (entrance: Entrance) =>
    void action.run(async () => {
      await api('PATCH', `/entrances/${entrance.id}`, { signPresent: !entrance.signPresent });
      await list.reload();
    });
  return (
    <>
      <AdminForm title={t('registry.newEntrance')} onSubmit={save} busy={action.busy} error={action.error} done={done}>
        <Field id="entrance-building" label={t('registry.building')}>
          <BuildingSelect
            id="entrance-building"
            value={form.buildingId}
            buildings={buildings.data}
            onChange={(v) => setForm({ ...form, buildingId: v })}
          />
        </Field>
        <Field id="entrance-name" label={t('registry.name')}>
          <input
            id="entrance-name"
            required
            value={form.name}
            onChange={(e) => setForm({ ...form, name: e.target.value })}
          />
        </Field>
        <label className="check">
          <input
            type="checkbox"
            checked={form.isGeneralEntrance}
            onChange={(e) => setForm({ ...form, isGeneralEntrance: e.target.checked })}
          />
          {t('registry.generalEntrance')}
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={form.signPresent}
            onChange={(e) => setForm({ ...form, signPresent: e.target.checked })}
          />
          {t('registry.signPresent')}
        </label>
      </AdminForm>
      <Loading loading={list.loading} />
      <ErrorMessage error={list.error} />
      {list.data && (
        <Table
          caption={t('registry.tab.entrances')}
          head={[
            t('registry.name'),
            t('registry.building'),
            t('registry.generalEntrance'),
            t('registry.signPresent'),
            '',
          ]}
          rows={list.data.items.map((e) => [
            e.name,
            buildingName(e.buildingId),
            <YesNo key="g" value={e.isGeneralEntrance} />,
            e.signPresent ? (
              t('registry.signYes')
            ) : (
              <strong key="s" className="warn">
                {t('registry.signNo')}
              </strong>
            ),
            permissions.admin ? (
              <button key="b" type="button" className="small" onClick={() => toggleSign(e)}>
                {e.signPresent ? t('registry.markSignAbsent') : t('registry.markSignPresent')}
              </button>
            ) : (
              ''
            ),
          ])}
        />
      )}
      <Pager offset={list.offset} size={PAGE} next={list.data?.nextOffset ?? null} onChange={list.setOffset} />
    </>
  );
}

function Doors() {
  const { t } = useI18n();
  const list = usePaged<Door>('/doors');
  const buildings = useAll<Building>('/buildings');
  const action = useAction();
  const [done, setDone] = useState<string | null>(null);
  const [form, setForm] = useState({ buildingId: '', name: '', code: '', location: '' });
  const buildingName = (id: string) => buildings.data?.find((b) => b.id === id)?.name ?? id;
  const save = () =>
    void action.run(async () => {
      const created = await api<Door>('POST', '/doors', {
        buildingId: form.buildingId,
        name: form.name,
        code: form.code,
        ...(form.location ? { location: form.location } : {}),
      });
      setDone(t('common.saved', { name: created.name }));
      setForm({ ...form, name: '', code: '', location: '' });
      await list.reload();
    });
  return (
    <>
      <AdminForm title={t('registry.newDoor')} onSubmit={save} busy={action.busy} error={action.error} done={done}>
        <Field id="door-building" label={t('registry.building')}>
          <BuildingSelect
            id="door-building"
            value={form.buildingId}
            buildings={buildings.data}
            onChange={(v) => setForm({ ...form, buildingId: v })}
          />
        </Field>
        <Field id="door-name" label={t('registry.name')}>
          <input
            id="door-name"
            required
            value={form.name}
            onChange={(e) => setForm({ ...form, name: e.target.value })}
          />
        </Field>
        <Field id="door-code" label={t('registry.doorCode')}>
          <input
            id="door-code"
            required
            value={form.code}
            onChange={(e) => setForm({ ...form, code: e.target.value })}
          />
        </Field>
        <Field id="door-location" label={t('registry.location')}>
          <input
            id="door-location"
            value={form.location}
            onChange={(e) => setForm({ ...form, location: e.target.value })}
          />
        </Field>
      </AdminForm>
      <Loading loading={list.loading} />
      <ErrorMessage error={list.error} />
      {list.data && (
        <Table
          caption={t('registry.tab.doors')}
          head={[t('registry.name'), t('registry.doorCode'), t('registry.building'), t('registry.location')]}
          rows={list.data.items.map((d) => [d.name, d.code, buildingName(d.buildingId), d.location ?? '–'])}
        />
      )}
      <Pager offset={list.offset} size={PAGE} next={list.data?.nextOffset ?? null} onChange={list.setOffset} />
    </>
  );
}

const emptyCamera = () => ({
  buildingId: '',
  name: '',
  location: '',
  kind: 'real',
  goals: [] as string[],
  placement: {} as Record<string, boolean | string>,
  streamUrl: '',
  streamUsername: '',
  streamPassword: '',
  connectionSecured: false,
});

function Cameras() {
  const { t } = useI18n();
  const { permissions } = useSignedIn();
  const [status, setStatus] = useState('');
  const list = usePaged<Camera>('/cameras', { status: status || undefined });
  const buildings = useAll<Building>('/buildings');
  const action = useAction();
  const [done, setDone] = useState<string | null>(null);
  const [checked, setChecked] = useState<{ camera: string; refusals: Refusal[] } | null>(null);
  const [form, setForm] = useState(emptyCamera);
  const buildingName = (id: string) => buildings.data?.find((b) => b.id === id)?.name ?? id;

  const save = () =>
    void action.run(async () => {
      const placement: Record<string, boolean | string> = {};
      for (const [flag, reason] of PLACEMENT_FLAGS) {
        if (form.placement[flag] === true) {
          placement[flag] = true;
          const text = form.placement[reason];
          if (typeof text === 'string' && text.trim()) placement[reason] = text.trim();
        }
      }
      const created = await api<Camera>('POST', '/cameras', {
        buildingId: form.buildingId,
        name: form.name,
        kind: form.kind,
        goals: form.goals,
        placement,
        connectionSecured: form.connectionSecured,
        ...(form.location ? { location: form.location } : {}),
        ...(form.streamUrl ? { streamUrl: form.streamUrl } : {}),
        ...(form.streamUsername && form.streamPassword
          ? { credentials: { username: form.streamUsername, password: form.streamPassword } }
          : {}),
      });
      setDone(t('common.saved', { name: created.name }));
      setForm(emptyCamera());
      await list.reload();
    });

  const activate = (camera: Camera) =>
    void action.run(async () => {
      setChecked(null);
      setDone(null);
      if (camera.status === 'active') await api('POST', `/cameras/${camera.id}/deactivate`);
      else await api('POST', `/cameras/${camera.id}/activate`);
      setDone(t(camera.status === 'active' ? 'camera.deactivated' : 'camera.activated', { name: camera.name }));
      await list.reload();
    });

  const check = (camera: Camera) =>
    void action.run(async () => {
      const result = await api<{ activatable: boolean; refusals: Refusal[] }>('GET', `/cameras/${camera.id}/refusals`);
      setChecked({ camera: camera.name, refusals: result.refusals });
    });

  const toggleGoal = (goal: string, on: boolean) =>
    setForm({ ...form, goals: on ? [...form.goals, goal] : form.goals.filter((g) => g !== goal) });

  return (
    <>
      <AdminForm title={t('registry.newCamera')} onSubmit={save} busy={action.busy} error={null} done={null}>
        <Field id="camera-building" label={t('registry.building')}>
          <BuildingSelect
            id="camera-building"
            value={form.buildingId}
            buildings={buildings.data}
            onChange={(v) => setForm({ ...form, buildingId: v })}
          />
        </Field>
        <Field id="camera-name" label={t('registry.name')}>
          <input
            id="camera-name"
            required
            value={form.name}
            onChange={(e) => setForm({ ...form, name: e.target.value })}
          />
        </Field>
        <Field id="camera-location" label={t('registry.location')}>
          <input
            id="camera-location"
            value={form.location}
            onChange={(e) => setForm({ ...form, location: e.target.value })}
          />
        </Field>
        <Field id="camera-kind" label={t('camera.kind')}>
          <select id="camera-kind" value={form.kind} onChange={(e) => setForm({ ...form, kind: e.target.value })}>
            {(['real', 'dummy', 'hidden'] as const).map((k) => (
              <option key={k} value={k}>
                {t(`camera.kind.${k}` as MessageKey)}
              </option>
            ))}
          </select>
        </Field>
        <fieldset>
          <legend>{t('camera.goals')}</legend>
          {GOALS.map((goal) => (
            <label key={goal} className="check">
              <input
                type="checkbox"
                checked={form.goals.includes(goal)}
                onChange={(e) => toggleGoal(goal, e.target.checked)}
              />
              {t(`goal.${goal}` as MessageKey)}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>{t('camera.placement')}</legend>
          {PLACEMENT_FLAGS.map(([flag, reason]) => (
            <div key={flag}>
              <label className="check">
                <input
                  type="checkbox"
                  checked={form.placement[flag] === true}
                  onChange={(e) => setForm({ ...form, placement: { ...form.placement, [flag]: e.target.checked } })}
                />
                {t(`placement.${flag}` as MessageKey)}
              </label>
              {form.placement[flag] === true && (
                <Field id={`camera-${reason}`} label={t('camera.placementReason')}>
                  <input
                    id={`camera-${reason}`}
                    value={typeof form.placement[reason] === 'string' ? form.placement[reason] : ''}
                    onChange={(e) => setForm({ ...form, placement: { ...form.placement, [reason]: e.target.value } })}
                  />
                </Field>
              )}
            </div>
          ))}
        </fieldset>
        <Field id="camera-stream" label={t('camera.streamUrl')}>
          <input
            id="camera-stream"
            type="url"
            autoComplete="off"
            value={form.streamUrl}
            onChange={(e) => setForm({ ...form, streamUrl: e.target.value })}
          />
        </Field>
        <div className="row">
          <Field id="camera-username" label={t('camera.username')}>
            <input
              id="camera-username"
              autoComplete="off"
              value={form.streamUsername}
              onChange={(e) => setForm({ ...form, streamUsername: e.target.value })}
            />
          </Field>
          <Field id="camera-password" label={t('camera.password')}>
            <input
              id="camera-password"
              type="password"
              autoComplete="new-password"
              value={form.streamPassword}
              onChange={(e) => setForm({ ...form, streamPassword: e.target.value })}
            />
          </Field>
        </div>
        <p className="hint">{t('camera.secretsHint')}</p>
        <label className="check">
          <input
            type="checkbox"
            checked={form.connectionSecured}
            onChange={(e) => setForm({ ...form, connectionSecured: e.target.checked })}
          />
          {t('camera.secured')}
        </label>
      </AdminForm>
      <div className="filters">
        <Field id="camera-status-filter" label={t('camera.status')}>
          <select id="camera-status-filter" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">{t('common.all')}</option>
            <option value="active">{t('camera.status.active')}</option>
            <option value="inactive">{t('camera.status.inactive')}</option>
          </select>
        </Field>
      </div>
      <ErrorMessage error={action.error} />
      {done && <Notice>{done}</Notice>}
      {checked && (
        <div role="status" className={checked.refusals.length ? 'error' : 'notice'}>
          <p>
            {checked.refusals.length
              ? t('camera.notActivatable', { name: checked.camera })
              : t('camera.activatable', { name: checked.camera })}
          </p>
          <RefusalList refusals={checked.refusals} />
        </div>
      )}
      <Loading loading={list.loading} />
      <ErrorMessage error={list.error} />
      {list.data && (
        <Table
          caption={t('registry.tab.cameras')}
          head={[
            t('registry.name'),
            t('registry.building'),
            t('camera.kind'),
            t('camera.goals'),
            t('camera.placement'),
            t('camera.secured'),
            t('camera.status'),
            '',
          ]}
          rows={list.data.items.map((c) => [
            <span key="n">
              {c.name}
              {c.location && <span className="muted"> · {c.location}</span>}
            </span>,
            buildingName(c.buildingId),
            t(`camera.kind.${c.kind}` as MessageKey),
            c.goals.length ? c.goals.map((g) => t(`goal.${g}` as MessageKey)).join(', ') : '–',
            placementSummary(c.placement, t) || '–',
            <YesNo key="s" value={c.connectionSecured} />,
            <span key="st">
              {t(`camera.status.${c.status}` as MessageKey)}
              {c.activatedAt && (
                <span className="muted">
                  {' '}
                  <Time value={c.activatedAt} />
                </span>
              )}
            </span>,
            <span key="a" className="actions">
              <button type="button" className="small secondary" onClick={() => check(c)}>
                {t('camera.check')}
              </button>
              {permissions.admin && (
                <button type="button" className="small" onClick={() => activate(c)}>
                  {c.status === 'active' ? t('camera.deactivate') : t('camera.activate')}
                </button>
              )}
            </span>,
          ])}
        />
      )}
      <Pager offset={list.offset} size={PAGE} next={list.data?.nextOffset ?? null} onChange={list.setOffset} />
    </>
  );
}

function placementSummary(placement: Placement, t: (key: MessageKey) => string): string {
  return PLACEMENT_FLAGS.filter(([flag]) => placement[flag])
    .map(([flag]) => t(`placement.${flag}` as MessageKey))
    .join(', ');
}
