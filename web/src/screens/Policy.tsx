import { Articles, ErrorMessage, Loading, useLoad } from '../components/common';
import { Table } from '../components/table';
import { useI18n } from '../i18n';
import { api } from '../lib/api';

interface PolicyDoc {
  id: string;
  name: string;
  corporation: string;
  version: string;
  dataCategories: Record<string, { retention: string | null; articles: string[]; note?: string }>;
  purposes: Record<
    string,
    {
      categories: string[];
      requires: string;
      fourEyes: boolean;
      maxLookback?: string;
      articles: string[];
      note?: string;
    }
  >;
  roles: {
    id: string;
    name: { nl: string; en: string };
    permissions: { purpose: string; categories: string[] }[];
    capabilities: string[];
    articles: string[];
  }[];
}
interface PolicyResponse {
  ref: string;
  hash: string;
  policy: PolicyDoc;
  warnings: { path: string; code: string; message: string; articles: string[] }[];
}

/** The protocol in force, readable (W 7, M 7), with the legal warnings of the policy check. */
export function PolicyScreen() {
  const { t, tOr, language } = useI18n();
  const policy = useLoad(() => api<PolicyResponse>('GET', '/policy'), []);
  const p = policy.data?.policy;
  return (
    <section aria-labelledby="policy-title">
      <h1 id="policy-title">{t('policy.title')}</h1>
      <Loading loading={policy.loading} />
      <ErrorMessage error={policy.error} />
      {policy.data && p && (
        <>
          <p>
            <strong>{p.name}</strong> ({p.corporation}, {p.version})<br />
            <span className="muted">
              {t('policy.ref')}: {policy.data.ref} · {t('policy.hash')}: <code>{policy.data.hash.slice(0, 16)}…</code>
            </span>
          </p>
          <h2>{t('policy.warnings')}</h2>
          {policy.data.warnings.length === 0 ? (
            <p>{t('policy.noWarnings')}</p>
          ) : (
            <ul className="warnings" data-testid="policy-warnings">
              {policy.data.warnings.map((w) => (
                <li key={`${w.path}-${w.code}`} className="warning">
                  {tOr(`policyWarning.${w.code}`, w.message)} <span className="muted">({w.path})</span>{' '}
                  <Articles articles={w.articles} />
                </li>
              ))}
            </ul>
          )}
          <h2>{t('policy.retention')}</h2>
          <Table
            caption={t('policy.retention')}
            head={[t('policy.category'), t('policy.period'), t('common.articles')]}
            rows={Object.entries(p.dataCategories).map(([id, c]) => [
              tOr(`category.${id}`, id),
              c.retention ?? '–',
              c.articles.join(', '),
            ])}
          />
          <h2>{t('policy.roles')}</h2>
          <Table
            caption={t('policy.roles')}
            head={[t('policy.role'), t('policy.purposes'), t('policy.capabilities')]}
            rows={p.roles.map((r) => [
              r.name[language],
              r.permissions.map((perm) => tOr(`purposeName.${perm.purpose}`, perm.purpose)).join(', ') || '–',
              r.capabilities.map((c) => tOr(`capability.${c}`, c)).join(', ') || '–',
            ])}
          />
          <h2>{t('policy.purposesTitle')}</h2>
          <Table
            caption={t('policy.purposesTitle')}
            head={[
              t('purpose.purpose'),
              t('policy.categories'),
              t('policy.requires'),
              t('policy.fourEyes'),
              t('common.articles'),
            ]}
            rows={Object.entries(p.purposes).map(([id, rule]) => [
              tOr(`purposeName.${id}`, id),
              rule.categories.map((c) => tOr(`category.${c}`, c)).join(', '),
              tOr(`requires.${rule.requires}`, rule.requires),
              rule.fourEyes ? t('common.yes') : t('common.no'),
              rule.articles.join(', '),
            ])}
          />
        </>
      )}
    </section>
  );
}
