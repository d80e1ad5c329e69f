/**
 * Dutch by default, English on request; every user-facing string lives in nl.ts and en.ts.
 * `t('key', { name })` fills `{name}` placeholders. The choice is kept in localStorage.
 */
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { en } from './en';
import { nl, type MessageKey } from './nl';

export type Language = 'nl' | 'en';
export type { MessageKey };
const MESSAGES: Record<Language, Record<MessageKey, string>> = { nl, en };
const STORAGE_KEY = 'protocam.language';

export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string;

interface I18n {
  language: Language;
  setLanguage: (language: Language) => void;
  /** The signed-in user's language from their profile, unless this browser already has a choice. */
  preferLanguage: (language: Language) => void;
  t: Translate;
  /** Translation of a dynamic key (e.g. an error code), or `fallback` when there is none. */
  tOr: (key: string, fallback: string, values?: Record<string, string | number>) => string;
}

const I18nContext = createContext<I18n | null>(null);

function fill(text: string, values?: Record<string, string | number>): string {
  if (!values) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

function initialLanguage(): Language {
  try {
    return window.localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'nl';
  } catch {
    return 'nl';
  }
}

export function I18nProvider({ children }: { children: ReactNode }) {
  const [language, setLanguageState] = useState<Language>(initialLanguage);
  const setLanguage = useCallback((next: Language) => {
    setLanguageState(next);
    document.documentElement.lang = next;
    try {
      window.localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // private mode: the choice lasts for this page only
    }
  }, []);
  const preferLanguage = useCallback((preferred: Language) => {
    let stored: string | null = null;
    try {
      stored = window.localStorage.getItem(STORAGE_KEY);
    } catch {
      // no storage: follow the profile
    }
    if (stored === null) setLanguageState(preferred);
  }, []);
  const value = useMemo<I18n>(() => {
    const messages = MESSAGES[language];
    document.documentElement.lang = language;
    return {
      language,
      setLanguage,
      preferLanguage,
      t: (key, values) => fill(messages[key], values),
      tOr: (key, fallback, values) => fill(key in messages ? messages[key as MessageKey] : fallback, values),
    };
  }, [language, setLanguage, preferLanguage]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const context = useContext(I18nContext);
  if (!context) throw new Error('useI18n outside I18nProvider');
  return context;
}
