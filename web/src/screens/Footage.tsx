/**
 * Viewing footage (W 6.3, M 6.3): the purpose form comes first, so no image is requested before
 * the gate has issued a grant and written the logbook entry. With the grant: a timeline of
 * where recordings exist in the window, the player (hls.js; the grant travels in a header set
 * in `xhrSetup`, never in a URL), still frames, live view where the purpose allows it, and the
 * export. Closing the viewer asks for the finding (M 6.4).
 */
import Hls from 'hls.js';
import { useCallback, useEffect, useRef, useState } from 'react';
import { ErrorMessage, Notice, Time, useAction, useLoad } from '../components/common';
import { FindingForm } from '../components/FindingForm';
import { PurposeForm, type PurposeAnswer } from '../components/PurposeForm';
import { useI18n } from '../i18n';
import { api, ApiError } from '../lib/api';
import { useSignedIn } from '../lib/session';
import { formatTime } from '../lib/time';

export const GRANT_HEADER = 'x-protocam-grant';
/** The timeline's resolution: the window is probed in this many equal parts. */
const TIMELINE_PARTS = 24;
/** One frame at 25 fps, the recorder's usual rate; a step never needs to be exact to the frame. */
const FRAME_SECONDS = 0.04;
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];

interface CameraItem {
  id: string;
  name: string;
  active?: boolean;
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
export interface Viewing {
  token: string;
  entryId: string;
  purpose: string;
  cameraIds: string[];
  from: number;
  to: number;
}

/** Bytes or text of a grant-protected URL. */
async function grantFetch(url: string, token: string): Promise<Response> {
  const response = await fetch(url, { headers: { [GRANT_HEADER]: token }, credentials: 'same-origin' });
  if (!response.ok) {
    let code = `http-${response.status}`;
    let message = response.statusText;
    let details: unknown;
    try {
      const body = (await response.json()) as { error?: { code: string; message: string; details?: unknown } };
      if (body.error) ({ code, message, details } = body.error);
    } catch {
      // not JSON: keep the status
    }
    throw new ApiError(response.status, code, message, details);
  }
  return response;
}

const playlistUrl = (cameraId: string, from?: number, to?: number) => {
  const search = new URLSearchParams();
  if (from !== undefined) search.set('from', new Date(from).toISOString());
  if (to !== undefined) search.set('to', new Date(to).toISOString());
  const text = search.toString();
  return `/api/playback/cameras/${encodeURIComponent(cameraId)}/index.m3u8${text ? `?${text}` : ''}`;
};

export function FootageScreen() {
  const { t } = useI18n();
  const { permissions } = useSignedIn();
  const purposes = permissions.purposes.filter((p) => p.categories.includes('footage'));
  const cameras = useLoad(
    () => api<{ items: CameraItem[] }>('GET', '/cameras?limit=500').then((page) => page.items),
    [],
  );
  // Live view only for the policy's liveView purposes (M 6.5, W 6.6); the server checks it again.
  const livePurposes = useLoad(
    () =>
      api<{ policy: { liveView?: { purposes?: string[] } } }>('GET', '/policy').then(
        (r) => r.policy.liveView?.purposes ?? [],
      ),
    [],
  );
  const action = useAction();
  const [selected, setSelected] = useState<string[]>([]);
  const [viewing, setViewing] = useState<Viewing | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  const [closedEntry, setClosedEntry] = useState<string | null>(null);

  const submit = (answer: PurposeAnswer) =>
    void action.run(async () => {
      setPending(null);
      setClosedEntry(null);
      const outcome = await api<Issued | Pending>('POST', '/access/requests', {
        category: 'footage',
        purpose: answer.purpose,
        scope: { cameraIds: selected },
        window: { from: answer.from, to: answer.to },
        reason: answer.reason,
        ...(answer.incidentId ? { incidentId: answer.incidentId } : {}),
        ...(answer.requestId ? { requestId: answer.requestId } : {}),
      });
      if (outcome.status === 'pending') {
        setPending(outcome.requestId);
        return;
      }
      setViewing({
        token: outcome.token,
        entryId: outcome.entryId,
        purpose: answer.purpose,
        cameraIds: selected,
        from: Date.parse(answer.from),
        to: Date.parse(answer.to),
      });
    });

  const close = () => {
    if (viewing) setClosedEntry(viewing.entryId);
    setViewing(null);
  };

  const names = new Map((cameras.data ?? []).map((c) => [c.id, c.name]));
  return (
    <section aria-labelledby="footage-title">
      <h1 id="footage-title">{t('footage.title')}</h1>
      <p className="muted">{t('footage.intro')}</p>
      <ErrorMessage error={cameras.error} />
      {!viewing && (
        <section aria-labelledby="footage-ask-title" className="panel">
          <h2 id="footage-ask-title">{t('footage.ask')}</h2>
          <PurposeForm
            idPrefix="footage"
            purposes={purposes}
            busy={action.busy}
            submitLabel={t('footage.submit')}
            onSubmit={(answer) => {
              if (selected.length === 0) action.setError(new ApiError(400, 'cameras-required', ''));
              else submit(answer);
            }}
            defaultHours={2}
          >
            <fieldset>
              <legend>{t('footage.cameras')}</legend>
              {(cameras.data ?? []).map((c) => (
                <label key={c.id} className="check">
                  <input
                    type="checkbox"
                    checked={selected.includes(c.id)}
                    onChange={(e) =>
                      setSelected(e.target.checked ? [...selected, c.id] : selected.filter((x) => x !== c.id))
                    }
                  />
                  {c.name}
                </label>
              ))}
            </fieldset>
          </PurposeForm>
          <ErrorMessage error={action.error} />
          {pending && <Notice>{t('footage.pending')}</Notice>}
        </section>
      )}
      {closedEntry && (
        <section aria-labelledby="footage-finding-title" className="panel">
          <h2 id="footage-finding-title">{t('footage.findingTitle')}</h2>
          <FindingForm entryId={closedEntry} onDone={() => undefined} />
        </section>
      )}
      {viewing && (
        <>
          <Notice>{t('footage.logged')}</Notice>
          {viewing.cameraIds.map((cameraId) => (
            <CameraViewer
              key={cameraId}
              cameraId={cameraId}
              name={names.get(cameraId) ?? cameraId}
              viewing={viewing}
              liveAllowed={(livePurposes.data ?? []).includes(viewing.purpose)}
            />
          ))}
          <ExportPanel viewing={viewing} names={names} />
          <p>
            <button type="button" onClick={close}>
              {t('footage.close')}
            </button>
          </p>
        </>
      )}
    </section>
  );
}

/** Which parts of the window hold recordings, probed through the grant (no segment bytes are read). */
function useAvailability(cameraId: string, viewing: Viewing) {
  return useLoad(async () => {
    const part = (viewing.to - viewing.from) / TIMELINE_PARTS;
    const parts = Array.from({ length: TIMELINE_PARTS }, (_, i) => ({
      from: Math.round(viewing.from + i * part),
      to: Math.round(viewing.from + (i + 1) * part),
    }));
    return Promise.all(
      parts.map(async ({ from, to }) => {
        try {
          await grantFetch(playlistUrl(cameraId, from, to), viewing.token);
          return { from, to, has: true };
        } catch (caught) {
          // "No recordings here" is an answer; anything else (grant refused) is shown.
          if (caught instanceof ApiError && caught.code === 'footage-not-found') return { from, to, has: false };
          throw caught;
        }
      }),
    );
  }, [cameraId, viewing.token]);
}

/**
 * When the first recording at or after `from` begins, to about a tenth of a second: the playlist has no
 * dates, so the player's time 0 is placed by narrowing the window until recordings appear.
 */
async function firstRecordingAt(cameraId: string, token: string, from: number, to: number): Promise<number> {
  let lo = from;
  let hi = to;
  while (hi - lo > 250) {
    const mid = Math.round((lo + hi) / 2);
    const response = await fetch(playlistUrl(cameraId, from, mid), {
      headers: { [GRANT_HEADER]: token },
      credentials: 'same-origin',
    });
    if (response.ok) hi = mid;
    else lo = mid;
  }
  // The start lies in (lo, hi]: the middle is within an eighth of a second.
  return Math.round((lo + hi) / 2);
}

function CameraViewer({
  cameraId,
  name,
  viewing,
  liveAllowed,
}: {
  cameraId: string;
  name: string;
  viewing: Viewing;
  liveAllowed: boolean;
}) {
  const { t, language } = useI18n();
  const video = useRef<HTMLVideoElement>(null);
  const hls = useRef<Hls | null>(null);
  const [start, setStart] = useState<number | null>(null);
  const [live, setLive] = useState(false);
  const [speed, setSpeed] = useState(1);
  const [position, setPosition] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [frame, setFrame] = useState<{ url: string; at: number } | null>(null);
  const availability = useAvailability(cameraId, viewing);
  const idBase = `camera-${cameraId}`;

  const play = useCallback(
    (from: number | null, asLive = false) => {
      hls.current?.destroy();
      setError(null);
      const element = video.current;
      if (!element) return;
      const instance = new Hls({
        // The CSP allows no blob: workers; the main thread is fast enough for one camera.
        enableWorker: false,
        xhrSetup: (xhr) => xhr.setRequestHeader(GRANT_HEADER, viewing.token),
      });
      instance.on(Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) {
          const status = data.response?.code;
          setError(
            status === 404
              ? new ApiError(404, 'footage-not-found', '')
              : status === 403
                ? new ApiError(403, 'grant-refused', '')
                : new ApiError(0, 'playback-failed', data.details),
          );
          instance.destroy();
        }
      });
      instance.loadSource(
        asLive
          ? `/api/playback/cameras/${encodeURIComponent(cameraId)}/live.m3u8`
          : playlistUrl(cameraId, from ?? undefined, from === null ? undefined : viewing.to),
      );
      instance.attachMedia(element);
      instance.on(Hls.Events.MANIFEST_PARSED, () => {
        element.playbackRate = speed;
        void element.play().catch(() => undefined);
      });
      hls.current = instance;
      setLive(asLive);
      setStart(asLive ? Date.now() : null);
      if (!asLive)
        void firstRecordingAt(cameraId, viewing.token, from ?? viewing.from, viewing.to).then(setStart, setError);
    },
    [cameraId, viewing, speed],
  );

  useEffect(() => () => hls.current?.destroy(), []);

  /** Wall-clock time of what is shown: the playlist's date when it has one, else from where playback began. */
  const shownAt = (): number | null => {
    const element = video.current;
    if (!element || start === null) return null;
    const dated = hls.current?.playingDate;
    if (dated) return dated.getTime();
    return live ? Date.now() : start + element.currentTime * 1000;
  };

  const step = (seconds: number) => {
    const element = video.current;
    if (!element) return;
    element.pause();
    element.currentTime = Math.max(0, element.currentTime + seconds);
  };
  const stepSegment = (direction: 1 | -1) => {
    const element = video.current;
    const details = hls.current?.levels[hls.current.currentLevel < 0 ? 0 : hls.current.currentLevel]?.details;
    if (!element || !details) return;
    const now = element.currentTime;
    const starts = details.fragments.map((f) => f.start);
    const target =
      direction > 0 ? starts.find((s) => s > now + 0.05) : [...starts].reverse().find((s) => s < now - 0.5);
    if (target !== undefined) element.currentTime = target;
  };
  const changeSpeed = (value: number) => {
    setSpeed(value);
    if (video.current) video.current.playbackRate = value;
  };
  const capture = async () => {
    const at = shownAt();
    if (at === null) return;
    try {
      const response = await grantFetch(
        `/api/playback/cameras/${encodeURIComponent(cameraId)}/frame.jpg?at=${encodeURIComponent(new Date(at).toISOString())}`,
        viewing.token,
      );
      const blob = await response.blob();
      if (frame) URL.revokeObjectURL(frame.url);
      setFrame({ url: URL.createObjectURL(blob), at });
    } catch (caught) {
      setError(caught);
    }
  };

  return (
    <section aria-labelledby={`${idBase}-title`} className="panel viewer">
      <h2 id={`${idBase}-title`}>{name}</h2>
      <h3 id={`${idBase}-timeline-title`}>{t('footage.timeline')}</h3>
      <ErrorMessage error={availability.error} />
      <ol className="timeline" aria-labelledby={`${idBase}-timeline-title`}>
        {(availability.data ?? []).map((part) => (
          <li key={part.from}>
            <button
              type="button"
              className={part.has ? 'has' : 'none'}
              disabled={!part.has}
              onClick={() => play(part.from)}
              aria-label={`${formatTime(part.from, language)}: ${part.has ? t('footage.recorded') : t('footage.notRecorded')}`}
              title={formatTime(part.from, language)}
            />
          </li>
        ))}
      </ol>
      <p className="hint">
        <Time value={viewing.from} /> – <Time value={viewing.to} />. {t('footage.timelineHint')}
      </p>
      <video
        ref={video}
        controls
        muted
        playsInline
        className="player"
        data-testid="player"
        aria-label={t('footage.player', { name })}
        onTimeUpdate={() => setPosition(shownAt())}
      />
      <div className="controls" role="group" aria-label={t('footage.controls')}>
        <button type="button" onClick={() => play(null)}>
          {t('footage.play')}
        </button>
        <button type="button" className="secondary" onClick={() => stepSegment(-1)}>
          {t('footage.prevSegment')}
        </button>
        <button type="button" className="secondary" onClick={() => step(-FRAME_SECONDS)}>
          {t('footage.prevFrame')}
        </button>
        <button type="button" className="secondary" onClick={() => step(FRAME_SECONDS)}>
          {t('footage.nextFrame')}
        </button>
        <button type="button" className="secondary" onClick={() => stepSegment(1)}>
          {t('footage.nextSegment')}
        </button>
        <label className="inline">
          {t('footage.speed')}{' '}
          <select value={speed} onChange={(e) => changeSpeed(Number(e.target.value))}>
            {SPEEDS.map((s) => (
              <option key={s} value={s}>
                {s}×
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="secondary" onClick={() => void capture()}>
          {t('footage.capture')}
        </button>
        {liveAllowed && viewing.to >= Date.now() - 60_000 && (
          <button type="button" className="secondary" onClick={() => play(null, true)}>
            {t('footage.live')}
          </button>
        )}
      </div>
      <p aria-live="polite" className="muted" data-testid="position">
        {live && <>{t('footage.liveNow')} </>}
        {position !== null && <Time value={position} seconds />}
      </p>
      <ErrorMessage error={error} />
      {frame && (
        <figure className="still">
          <img src={frame.url} alt={t('footage.still', { name, time: formatTime(frame.at, language, true) })} />
          <figcaption>
            <Time value={frame.at} seconds />{' '}
            <a href={frame.url} download={`${name}-${new Date(frame.at).toISOString()}.jpg`}>
              {t('footage.saveStill')}
            </a>
          </figcaption>
        </figure>
      )}
    </section>
  );
}

interface ExportView {
  id: string;
  status: string;
  progress: number;
  cameraIds: string[];
  from: string;
  to: string;
  bytes: number;
  manifestSha256: string | null;
  error: string | null;
  files: string[];
}

/** An export of the viewed window: started with the grant, progress polled, then manifest and downloads. */
function ExportPanel({ viewing, names }: { viewing: Viewing; names: Map<string, string> }) {
  const { t } = useI18n();
  const action = useAction();
  const setError = action.setError;
  const [current, setCurrent] = useState<ExportView | null>(null);
  const [manifest, setManifest] = useState<string | null>(null);
  const [links, setLinks] = useState<Record<string, string>>({});

  useEffect(() => {
    if (!current || current.status === 'done' || current.status === 'failed') return;
    const timer = setTimeout(() => {
      void api<ExportView>('GET', `/exports/${encodeURIComponent(current.id)}`)
        .then(setCurrent)
        .catch((caught: unknown) => setError(caught));
    }, 1000);
    return () => clearTimeout(timer);
  }, [current, setError]);

  useEffect(() => {
    if (current?.status !== 'done') return;
    let cancelled = false;
    const urls: string[] = [];
    void (async () => {
      const next: Record<string, string> = {};
      for (const name of current.files) {
        const response = await grantFetch(
          `/api/exports/${encodeURIComponent(current.id)}/files/${encodeURIComponent(name)}`,
          viewing.token,
        );
        const blob = await response.blob();
        if (name === 'manifest.json' && !cancelled) setManifest(await blob.text());
        const url = URL.createObjectURL(blob);
        urls.push(url);
        next[name] = url;
      }
      if (!cancelled) setLinks(next);
    })().catch((caught: unknown) => setError(caught));
    return () => {
      cancelled = true;
      urls.forEach((url) => URL.revokeObjectURL(url));
    };
  }, [current?.status, current?.id, current?.files, viewing.token, setError]);

  const start = () =>
    void action.run(async () => {
      setManifest(null);
      setLinks({});
      const started = await api<ExportView>(
        'POST',
        '/exports',
        {
          cameraIds: viewing.cameraIds,
          from: new Date(viewing.from).toISOString(),
          to: new Date(viewing.to).toISOString(),
        },
        { headers: { [GRANT_HEADER]: viewing.token } },
      );
      setCurrent(started);
    });

  return (
    <section aria-labelledby="export-title" className="panel">
      <h2 id="export-title">{t('export.title')}</h2>
      <p>{t('export.intro', { cameras: viewing.cameraIds.map((id) => names.get(id) ?? id).join(', ') })}</p>
      <button
        type="button"
        onClick={start}
        disabled={action.busy || (current !== null && current.status !== 'done' && current.status !== 'failed')}
      >
        {t('export.start')}
      </button>
      <ErrorMessage error={action.error} />
      {current && (
        <div className="result">
          <label htmlFor="export-progress">
            {t(
              `export.status.${current.status === 'done' || current.status === 'failed' ? current.status : 'running'}`,
            )}
          </label>{' '}
          <progress id="export-progress" max={1} value={current.status === 'done' ? 1 : current.progress} />{' '}
          {current.error && <p className="error">{current.error}</p>}
        </div>
      )}
      {current?.status === 'done' && (
        <>
          <h3>{t('export.files')}</h3>
          <ul>
            {current.files.map((name) => (
              <li key={name}>
                {links[name] ? (
                  <a href={links[name]} download={name}>
                    {name}
                  </a>
                ) : (
                  name
                )}
              </li>
            ))}
          </ul>
          {current.manifestSha256 && (
            <p>
              {t('export.manifestHash')} <code className="wrap">{current.manifestSha256}</code>
            </p>
          )}
          <h3>{t('export.manifest')}</h3>
          {manifest && (
            <pre className="manifest" tabIndex={0} data-testid="export-manifest">
              {manifest}
            </pre>
          )}
          <h3>{t('export.howToVerify')}</h3>
          <p>{t('export.verifyText')}</p>
          <pre className="manifest" tabIndex={0}>
            protocam export verify &lt;{t('export.folder')}&gt;
          </pre>
          <p>{t('export.verifyKey')}</p>
        </>
      )}
    </section>
  );
}
