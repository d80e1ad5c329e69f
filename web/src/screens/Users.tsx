import { useState, type FormEvent } from 'react';
import { ErrorMessage, Loading, Notice, Time, YesNo, useAction, useLoad } from '../components/common';
import { Table } from '../components/table';
import { useI18n } from '../i18n';
import { api } from '../lib/api';
import { useSignedIn, type User } from '../lib/session';

interface Issued {
  user: User;
  oneTimeToken: string;
  expiresAt: string;
  signInPath: string;
}

/** Users and roles (administrators): add with a one-time sign-in link, roles, TOTP reset, disable. */
export function UsersScreen() {
  const { t, language } = useI18n();
  const { session } = useSignedIn();
  const users = useLoad(() => api<{ items: User[] }>('GET', '/users').then((r) => r.items), []);
  const roles = useLoad(
    () => api<{ items: { id: string; totpRequired: boolean }[] }>('GET', '/users/roles').then((r) => r.items),
    [],
  );
  const policy = useLoad(
    () =>
      api<{ policy: { roles: { id: string; name: { nl: string; en: string } }[] } }>('GET', '/policy').then(
        (r) => r.policy.roles,
      ),
    [],
  );
  const action = useAction();
  const [link, setLink] = useState<{ username: string; url: string; expiresAt: string } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [form, setForm] = useState({ username: '', displayName: '', email: '', roles: [] as string[], language: 'nl' });
  const roleName = (id: string) =>
    id === 'admin' ? t('role.admin') : (policy.data?.find((r) => r.id === id)?.name[language] ?? id);

  const showLink = (issued: Issued) =>
    setLink({
      username: issued.user.username,
      url: window.location.origin + issued.signInPath,
      expiresAt: issued.expiresAt,
    });

  const add = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const issued = await api<Issued>('POST', '/users', {
        username: form.username,
        displayName: form.displayName,
        roles: form.roles,
        language: form.language,
        ...(form.email ? { email: form.email } : {}),
      });
      showLink(issued);
      setForm({ username: '', displayName: '', email: '', roles: [], language: 'nl' });
      await users.reload();
    });
  };

  const patch = (user: User, body: object, message: string) =>
    void action.run(async () => {
      await api('PATCH', `/users/${user.id}`, body);
      setNotice(message);
      await users.reload();
    });
  const resetTotp = (user: User) =>
    void action.run(async () => {
      await api('POST', `/users/${user.id}/reset-totp`);
      setNotice(t('users.totpReset', { name: user.displayName }));
      await users.reload();
    });
  const resetPassword = (user: User) =>
    void action.run(async () => {
      showLink(await api<Issued>('POST', `/users/${user.id}/reset-password`));
      await users.reload();
    });

  return (
    <section aria-labelledby="users-title">
      <h1 id="users-title">{t('users.title')}</h1>
      <details className="form-panel">
        <summary>{t('users.add')}</summary>
        <form onSubmit={add}>
          <div className="field">
            <label htmlFor="user-username">{t('signIn.username')}</label>
            <input
              id="user-username"
              required
              value={form.username}
              onChange={(e) => setForm({ ...form, username: e.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor="user-name">{t('users.displayName')}</label>
            <input
              id="user-name"
              required
              value={form.displayName}
              onChange={(e) => setForm({ ...form, displayName: e.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor="user-email">{t('users.email')}</label>
            <input
              id="user-email"
              type="email"
              value={form.email}
              onChange={(e) => setForm({ ...form, email: e.target.value })}
            />
          </div>
          <fieldset>
            <legend>{t('users.roles')}</legend>
            {roles.data?.map((r) => (
              <label key={r.id} className="check">
                <input
                  type="checkbox"
                  checked={form.roles.includes(r.id)}
                  onChange={(e) =>
                    setForm({
                      ...form,
                      roles: e.target.checked ? [...form.roles, r.id] : form.roles.filter((x) => x !== r.id),
                    })
                  }
                />
                {roleName(r.id)}
                {r.totpRequired && <span className="muted"> ({t('users.totpRequired')})</span>}
              </label>
            ))}
          </fieldset>
          <div className="field">
            <label htmlFor="user-language">{t('users.language')}</label>
            <select
              id="user-language"
              value={form.language}
              onChange={(e) => setForm({ ...form, language: e.target.value })}
            >
              <option value="nl">Nederlands</option>
              <option value="en">English</option>
            </select>
          </div>
          <button disabled={action.busy}>{t('users.addSubmit')}</button>
        </form>
      </details>
      <ErrorMessage error={action.error} />
      {notice && <Notice>{notice}</Notice>}
      {link && (
        <div role="status" className="notice">
          <p>{t('users.link', { username: link.username })}</p>
          <p>
            <code className="link" data-testid="sign-in-link">
              {link.url}
            </code>
          </p>
          <p className="muted">
            {t('users.linkExpires')} <Time value={link.expiresAt} />
          </p>
        </div>
      )}
      <Loading loading={users.loading} />
      <ErrorMessage error={users.error} />
      {users.data && (
        <Table
          caption={t('users.title')}
          head={[
            t('signIn.username'),
            t('users.displayName'),
            t('users.roles'),
            t('users.totp'),
            t('users.status'),
            '',
          ]}
          rows={users.data.map((u) => [
            u.username,
            u.displayName,
            u.roles.map(roleName).join(', '),
            <span key="t">
              <YesNo value={u.totpEnabled} />
              {u.totpRequired && !u.totpEnabled && <span className="muted"> ({t('users.totpPending')})</span>}
            </span>,
            u.status === 'active' ? t('users.active') : t('users.disabled'),
            u.id === session.user.id ? (
              <span key="a" className="muted">
                {t('users.you')}
              </span>
            ) : (
              <span key="a" className="actions">
                {u.totpEnabled && (
                  <button type="button" className="small secondary" onClick={() => resetTotp(u)}>
                    {t('users.resetTotp')}
                  </button>
                )}
                <button type="button" className="small secondary" onClick={() => resetPassword(u)}>
                  {t('users.resetPassword')}
                </button>
                <button
                  type="button"
                  className="small secondary"
                  onClick={() =>
                    patch(
                      u,
                      { status: u.status === 'active' ? 'disabled' : 'active' },
                      t('users.statusChanged', { name: u.displayName }),
                    )
                  }
                >
                  {u.status === 'active' ? t('users.disable') : t('users.enable')}
                </button>
              </span>
            ),
          ])}
        />
      )}
    </section>
  );
}
