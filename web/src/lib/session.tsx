/**
 * The signed-in user: /api/auth/me (user, CSRF token, second-factor state) and
 * /api/auth/permissions (roles, capabilities and purposes under the policy in force), which
 * drive the navigation. A 401 `session-expired` anywhere returns the user to sign-in with a
 * message, keeping the page they were on.
 */
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, ApiError, SESSION_ENDED_EVENT, setCsrfToken } from './api';

export interface User {
  id: string;
  username: string;
  displayName: string;
  email: string | null;
  roles: string[];
  language: 'nl' | 'en';
  status: 'active' | 'disabled';
  totpEnabled: boolean;
  totpRequired: boolean;
  passwordSet: boolean;
  firstSignInPending: boolean;
  lockedUntil: string | null;
  createdAt: string;
}

export type SecondFactor = 'none' | 'required' | 'enroll';

export interface SessionResponse {
  user: User;
  csrfToken: string;
  secondFactor: SecondFactor;
  expiresAt: string;
}

export type Capability =
  | 'sign-logbook'
  | 'read-logbook'
  | 'decide-requests'
  | 'decide-disclosures'
  | 'secure-footage'
  | 'manage-incidents'
  | 'approve-access'
  | 'maintenance-log';

export interface PurposePermission {
  id: string;
  label: { nl: string; en: string };
  categories: string[];
  requires: string;
  fourEyes: boolean;
  maxLookback: string | null;
  articles: string[];
}

export interface Permissions {
  admin: boolean;
  roles: { id: string; name: { nl: string; en: string } }[];
  capabilities: Capability[];
  seesPersonalData: boolean;
  purposes: PurposePermission[];
}

export type SessionState =
  | { status: 'loading' }
  | { status: 'signed-out'; reason: string | null }
  | { status: 'second-factor'; session: SessionResponse }
  | { status: 'signed-in'; session: SessionResponse; permissions: Permissions };

interface SessionApi {
  state: SessionState;
  /** After a sign-in step: load permissions when the session is complete. */
  accept: (session: SessionResponse) => Promise<void>;
  signOut: () => Promise<void>;
  reload: () => Promise<void>;
}

const SessionContext = createContext<SessionApi | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });

  const accept = useCallback(async (session: SessionResponse) => {
    setCsrfToken(session.csrfToken);
    if (session.secondFactor !== 'none') {
      setState({ status: 'second-factor', session });
      return;
    }
    const permissions = await api<Permissions>('GET', '/auth/permissions');
    setState({ status: 'signed-in', session, permissions });
  }, []);

  const reload = useCallback(async () => {
    try {
      await accept(await api<SessionResponse>('GET', '/auth/me', undefined, { quiet401: true }));
    } catch (error) {
      setCsrfToken(null);
      const reason = error instanceof ApiError && error.code === 'session-expired' ? 'session-expired' : null;
      setState({ status: 'signed-out', reason });
    }
  }, [accept]);

  const signOut = useCallback(async () => {
    try {
      await api('POST', '/auth/sign-out', undefined, { quiet401: true });
    } finally {
      setCsrfToken(null);
      setState({ status: 'signed-out', reason: 'signed-out' });
    }
  }, []);

  useEffect(() => {
    void reload();
    const ended = (event: Event) => {
      setCsrfToken(null);
      const code = (event as CustomEvent<string>).detail;
      const reason = code === 'session-expired' ? 'session-expired' : 'not-signed-in';
      // Parallel requests fail together: the first says `session-expired`, the rest `not-signed-in`.
      setState((previous) =>
        previous.status === 'signed-out' && previous.reason === 'session-expired'
          ? previous
          : { status: 'signed-out', reason },
      );
    };
    window.addEventListener(SESSION_ENDED_EVENT, ended);
    return () => window.removeEventListener(SESSION_ENDED_EVENT, ended);
  }, [reload]);

  return <SessionContext.Provider value={{ state, accept, signOut, reload }}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionApi {
  const context = useContext(SessionContext);
  if (!context) throw new Error('useSession outside SessionProvider');
  return context;
}

/** The signed-in user's session and permissions; only for screens rendered when signed in. */
export function useSignedIn(): { session: SessionResponse; permissions: Permissions } {
  const { state } = useSession();
  if (state.status !== 'signed-in') throw new Error('useSignedIn while not signed in');
  return state;
}

export const can = (permissions: Permissions, capability: Capability): boolean =>
  permissions.capabilities.includes(capability);

export const mayUsePurpose = (permissions: Permissions, purpose: string): boolean =>
  permissions.purposes.some((p) => p.id === purpose);
