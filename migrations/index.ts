import { Initial1764374400000 } from './1764374400000-Initial';

/** Every migration, in order. Listed explicitly so the build never depends on file globs. */
export const MIGRATIONS = [Initial1764374400000];
