import { createContext, useContext } from 'react';
import type { Api } from './api';
import type { WhoAmI } from './lib/types';

export interface Session {
  api: Api;
  whoami: WhoAmI;
  signOut: (message?: string) => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in page');
  return s;
}

const KEY = 'kiln.apiKey';

/**
 * The key lives in sessionStorage (gone when the tab closes), and in localStorage too only when
 * the user asks this browser to remember it (then every tab of this site has it, until Sign out).
 * It is never sent anywhere but the API.
 */
export const keyStore = {
  get: () => sessionStorage.getItem(KEY) ?? localStorage.getItem(KEY),
  set: (k: string, remember = false) => {
    sessionStorage.setItem(KEY, k);
    // Another key signed in without remembering replaces one remembered before, in every tab.
    if (remember) localStorage.setItem(KEY, k);
    else localStorage.removeItem(KEY);
  },
  remembered: () => localStorage.getItem(KEY) !== null,
  clear: () => {
    sessionStorage.removeItem(KEY);
    localStorage.removeItem(KEY);
  },
};
