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

/** The key lives in sessionStorage only: gone when the tab closes, never sent anywhere but the API. */
export const keyStore = {
  get: () => sessionStorage.getItem(KEY),
  set: (k: string) => sessionStorage.setItem(KEY, k),
  clear: () => sessionStorage.removeItem(KEY),
};
