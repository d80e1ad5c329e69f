import type { ReactNode } from 'react';
import { useI18n } from '../i18n';

/** A table that scrolls sideways on a phone; the scroll area is focusable for keyboard users. */
export function Table({
  caption,
  head,
  rows,
  empty,
}: {
  caption: string;
  head: string[];
  rows: ReactNode[][];
  empty?: string;
}) {
  const { t } = useI18n();
  if (rows.length === 0) return <p className="muted">{empty ?? t('common.empty')}</p>;
  return (
    <div className="table-wrap" role="region" aria-label={caption} tabIndex={0}>
      <table>
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            {head.map((cell, i) => (
              <th key={i} scope="col">
                {cell || <span className="sr-only">{t('common.actions')}</span>}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={i}>
              {row.map((cell, j) => (
                <td key={j}>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Offset paging (registry lists). */
export function Pager({
  offset,
  size,
  next,
  onChange,
}: {
  offset: number;
  size: number;
  next: number | null;
  onChange: (offset: number) => void;
}) {
  const { t } = useI18n();
  if (offset === 0 && next === null) return null;
  return (
    <nav className="pager" aria-label={t('common.paging')}>
      <button
        type="button"
        className="secondary"
        disabled={offset === 0}
        onClick={() => onChange(Math.max(0, offset - size))}
      >
        {t('common.previous')}
      </button>
      <button
        type="button"
        className="secondary"
        disabled={next === null}
        onClick={() => next !== null && onChange(next)}
      >
        {t('common.next')}
      </button>
    </nav>
  );
}
