import { useEffect, useState, type FormEvent } from 'react';
import { ErrorMessage, Notice, QrCode, useAction } from '../components/common';
import { useI18n } from '../i18n';
import { api } from '../lib/api';
import { navigate, useLocation } from '../lib/router';
import { useSession, type SessionResponse } from '../lib/session';

/** Sign-in with password, then TOTP (or first-time enrolment with a QR code); first sign-in by link. */
export function SignIn({ reason }: { reason: string | null }) {
  const { t } = useI18n();
  const location = useLocation();
  const token = location.path === '/first-sign-in' ? location.params.get('token') : null;
  return (
    <main id="main" className="signin">
      <h1>Protocam</h1>
      <p className="muted">{t('signIn.tagline')}</p>
      {reason === 'session-expired' && <Notice>{t('signIn.expired')}</Notice>}
      {reason === 'signed-out' && <Notice>{t('signIn.signedOut')}</Notice>}
      {token ? <FirstSignIn token={token} /> : <PasswordForm />}
    </main>
  );
}

function PasswordForm() {
  const { t } = useI18n();
  const { accept } = useSession();
  const action = useAction();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () =>
      accept(await api<SessionResponse>('POST', '/auth/sign-in', { username, password }, { quiet401: true })),
    );
  };
  return (
    <form onSubmit={submit} aria-labelledby="signin-title">
      <h2 id="signin-title">{t('signIn.title')}</h2>
      <label htmlFor="username">{t('signIn.username')}</label>
      <input
        id="username"
        autoComplete="username"
        required
        value={username}
        onChange={(e) => setUsername(e.target.value)}
      />
      <label htmlFor="password">{t('signIn.password')}</label>
      <input
        id="password"
        type="password"
        autoComplete="current-password"
        required
        value={password}
        onChange={(e) => setPassword(e.target.value)}
      />
      <button disabled={action.busy}>{t('signIn.submit')}</button>
      <ErrorMessage error={action.error} />
    </form>
  );
}

function FirstSignIn({ token }: { token: string }) {
  const { t } = useI18n();
  const { accept } = useSession();
  const action = useAction();
  const [password, setPassword] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const session = await api<SessionResponse>(
        'POST',
        '/auth/one-time',
        { token, newPassword: password },
        { quiet401: true },
      );
      navigate('/', { replace: true });
      await accept(session);
    });
  };
  return (
    <form onSubmit={submit} aria-labelledby="first-title">
      <h2 id="first-title">{t('signIn.firstTitle')}</h2>
      <p>{t('signIn.firstText')}</p>
      <label htmlFor="new-password">{t('signIn.newPassword')}</label>
      <input
        id="new-password"
        type="password"
        autoComplete="new-password"
        required
        minLength={12}
        value={password}
        onChange={(e) => setPassword(e.target.value)}
      />
      <button disabled={action.busy}>{t('signIn.firstSubmit')}</button>
      <ErrorMessage error={action.error} />
    </form>
  );
}

/** The second step: a code from the authenticator app, or enrolment first. */
export function SecondFactor({ session }: { session: SessionResponse }) {
  const { t } = useI18n();
  const { accept, signOut } = useSession();
  const action = useAction();
  const [code, setCode] = useState('');
  const [enrolment, setEnrolment] = useState<{ secret: string; otpauthUri: string } | null>(null);
  const enrolling = session.secondFactor === 'enroll';
  const { run } = action;

  useEffect(() => {
    if (!enrolling) return;
    void run(async () => setEnrolment(await api('POST', '/auth/totp/enroll', undefined, { quiet401: true })));
  }, [enrolling, run]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () =>
      accept(
        await api<SessionResponse>(
          'POST',
          enrolling ? '/auth/totp/confirm' : '/auth/totp/verify',
          { code },
          {
            quiet401: true,
          },
        ),
      ),
    );
  };

  return (
    <main id="main" className="signin">
      <h1>Protocam</h1>
      <form onSubmit={submit} aria-labelledby="totp-title">
        <h2 id="totp-title">{enrolling ? t('totp.enrollTitle') : t('totp.title')}</h2>
        {enrolling ? (
          <>
            <p>{t('totp.enrollText')}</p>
            {enrolment && (
              <div className="enrolment">
                <QrCode text={enrolment.otpauthUri} label={t('totp.qrLabel')} />
                <p>
                  {t('totp.secretText')} <code data-testid="totp-secret">{enrolment.secret}</code>
                </p>
              </div>
            )}
          </>
        ) : (
          <p>{t('totp.text')}</p>
        )}
        <label htmlFor="totp-code">{t('totp.code')}</label>
        <input
          id="totp-code"
          inputMode="numeric"
          autoComplete="one-time-code"
          pattern="[0-9 ]{6,8}"
          required
          value={code}
          onChange={(e) => setCode(e.target.value)}
        />
        <button disabled={action.busy}>{t('totp.submit')}</button>
        <button type="button" className="secondary" onClick={() => void signOut()}>
          {t('nav.signOut')}
        </button>
        <ErrorMessage error={action.error} />
      </form>
    </main>
  );
}
