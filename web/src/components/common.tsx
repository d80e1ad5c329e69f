import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { encode } from 'uqr';
import { useI18n } from '../i18n';
import { ApiError } from '../lib/api';
import { formatTime } from '../lib/time';

export interface Refusal {
  code: string;
  message: string;
  messageNl: string;
  articles: string[];
}

/** Loads data for a screen; `reload` after a change. Errors are kept for <ErrorMessage>. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const counter = useRef(0);
  const run = useCallback(load, deps);
  const reload = useCallback(async () => {
    const mine = ++counter.current;
    setLoading(true);
    try {
      const value = await run();
      if (mine === counter.current) {
        setData(value);
        setError(null);
      }
    } catch (caught) {
      if (mine === counter.current) setError(caught);
    } finally {
      if (mine === counter.current) setLoading(false);
    }
  }, [run]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, loading, reload };
}

/** Runs an action from a form or button, keeping its error and a busy flag. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await action();
    } catch (caught) {
      setError(caught);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}

export function Articles({ articles }: { articles: string[] }) {
  const { t } = useI18n();
  if (articles.length === 0) return null;
  return (
    <span className="articles">
      {t('common.articles')}: {articles.join(', ')}
    </span>
  );
}

export function RefusalList({ refusals }: { refusals: Refusal[] }) {
  const { language } = useI18n();
  return (
    <ul className="refusals">
      {refusals.map((refusal) => (
        <li key={refusal.code}>
          {language === 'nl' ? refusal.messageNl : refusal.message} <Articles articles={refusal.articles} />
        </li>
      ))}
    </ul>
  );
}

/** An API error in the user's language: known codes have their own text; refusals are explained. */
export function ErrorMessage({ error }: { error: unknown }) {
  const { t, tOr } = useI18n();
  if (!error) return null;
  if (!(error instanceof ApiError)) {
    return (
      <div role="alert" className="error">
        {t('error.unexpected')}
      </div>
    );
  }
  const details = (error.details ?? {}) as { refusals?: Refusal[]; articles?: string[]; reason?: string };
  return (
    <div role="alert" className="error">
      <p>{tOr(`error.${error.code}`, error.message)}</p>
      {details.refusals && details.refusals.length > 0 && <RefusalList refusals={details.refusals} />}
      {details.reason && <p>{tOr(`refusal.${details.reason}`, error.message)}</p>}
      {details.articles && details.articles.length > 0 && (
        <p>
          <Articles articles={details.articles} />
        </p>
      )}
    </div>
  );
}

export function Time({ value, seconds = false }: { value: string | number | null | undefined; seconds?: boolean }) {
  const { language } = useI18n();
  const text = formatTime(value, language, seconds);
  if (value === null || value === undefined || text === '–') return <>{text}</>;
  return <time dateTime={new Date(value).toISOString()}>{text}</time>;
}

export function Loading({ loading }: { loading: boolean }) {
  const { t } = useI18n();
  return loading ? (
    <p className="muted" aria-live="polite">
      {t('common.loading')}
    </p>
  ) : null;
}

export function Notice({ children }: { children: ReactNode }) {
  return (
    <div role="status" className="notice">
      {children}
    </div>
  );
}

/** A QR code drawn as SVG from its modules: no image URL, so the CSP needs no data: source. */
export function QrCode({ text, label }: { text: string; label: string }) {
  const qr = encode(text, { ecc: 'M' });
  const border = 4;
  const size = qr.size + border * 2;
  let path = '';
  qr.data.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) path += `M${x + border} ${y + border}h1v1h-1z`;
    }),
  );
  return (
    <svg
      className="qr"
      role="img"
      aria-label={label}
      viewBox={`0 0 ${size} ${size}`}
      width={size * 5}
      height={size * 5}
      shapeRendering="crispEdges"
    >
      <rect width={size} height={size} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  );
}

export function Refused() {
  const { t } = useI18n();
  return (
    <section aria-labelledby="refused-title">
      <h1 id="refused-title">{t('refused.title')}</h1>
      <p role="alert" className="error">
        {t('refused.text')}
      </p>
    </section>
  );
}

export function YesNo({ value }: { value: boolean }) {
  const { t } = useI18n();
  return <>{value ? t('common.yes') : t('common.no')}</>;
}
