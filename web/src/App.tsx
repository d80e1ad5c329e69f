import { useEffect } from 'react';
import { Refused } from './components/common';
import { useI18n } from './i18n';
import { Link, navigate, useLocation } from './lib/router';
import { useSession, useSignedIn } from './lib/session';
import { SCREENS, screenFor } from './screens';
import { SecondFactor, SignIn } from './screens/SignIn';

export function App() {
  const { state } = useSession();
  const { t } = useI18n();
  useEffect(() => {
    // One-time sign-in links printed by the server point at /#/first-sign-in?token=…
    const hash = window.location.hash;
    if (hash.startsWith('#/first-sign-in')) navigate(hash.slice(1), { replace: true });
  }, []);
  switch (state.status) {
    case 'loading':
      return <p className="muted">{t('common.loading')}</p>;
    case 'signed-out':
      return (
        <>
          <LanguageSwitch floating />
          <SignIn reason={state.reason} />
        </>
      );
    case 'second-factor':
      return (
        <>
          <LanguageSwitch floating />
          <SecondFactor session={state.session} />
        </>
      );
    case 'signed-in':
      return <Shell />;
  }
}

function LanguageSwitch({ floating = false }: { floating?: boolean }) {
  const { language, setLanguage, t } = useI18n();
  const other = language === 'nl' ? 'en' : 'nl';
  return (
    <button
      type="button"
      className={floating ? 'language floating' : 'language'}
      lang={other}
      onClick={() => setLanguage(other)}
    >
      {t('nav.otherLanguage')}
    </button>
  );
}

function Shell() {
  const { t, language, preferLanguage } = useI18n();
  const { signOut } = useSession();
  const { session, permissions } = useSignedIn();
  const profileLanguage = session.user.language;
  useEffect(() => preferLanguage(profileLanguage), [preferLanguage, profileLanguage]);
  const location = useLocation();
  const screen = screenFor(location.path);
  const visible = SCREENS.filter((s) => s.allowed(permissions));
  const roleNames = permissions.roles.map((role) => role.name[language]).join(', ');

  useEffect(() => {
    document.title = screen ? `${t(screen.label)} – Protocam` : 'Protocam';
  }, [screen, t]);

  const Component = screen?.component;
  return (
    <>
      <a className="skip" href="#main">
        {t('nav.skip')}
      </a>
      <header className="top">
        <div className="brand">
          <Link to="/">Protocam</Link>
        </div>
        <nav aria-label={t('nav.label')}>
          <ul>
            {visible.map((s) => (
              <li key={s.path} className={s.group}>
                <Link to={s.path} aria-current={screen?.path === s.path ? 'page' : undefined}>
                  {t(s.label)}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span data-testid="who">
            {session.user.displayName} <span className="muted">({roleNames})</span>
          </span>
          <LanguageSwitch />
          <button type="button" className="secondary" onClick={() => void signOut()}>
            {t('nav.signOut')}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {!screen || !Component ? (
          <section>
            <h1>{t('notFound.title')}</h1>
            <p>
              <Link to="/">{t('notFound.back')}</Link>
            </p>
          </section>
        ) : screen.allowed(permissions) ? (
          <Component key={screen.path} />
        ) : (
          <Refused />
        )}
      </main>
    </>
  );
}
