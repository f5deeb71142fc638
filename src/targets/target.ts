/**
 * A target descriptor in its canonical form: LLVM vocabulary, one field per compiler flag.
 * Every build stores one of these, so what was built is never ambiguous.
 */
export interface CanonicalTarget {
  /** The catalog entry this resolves to (a short name such as aarch64-linux-gnu). */
  name: string;
  triple: string;
  cpu: string | null;
  features: string[];
  abi: string | null;
  floatAbi: 'hard' | 'soft' | 'softfp' | null;
  os: 'linux' | 'wasi' | 'cuda' | 'amdhsa';
  /** null for GPU code, which links against no C library. */
  libc: 'glibc' | 'wasi-libc' | null;
  /** For a GPU target, its vendor and architecture (the same as cpu, in the vendor's words). */
  gpu?: { vendor: 'nvidia' | 'amd'; arch: string } | null;
}

/** What a client may send instead of a short name. */
export interface TargetDescriptorInput {
  triple: string;
  cpu?: string | null;
  features?: string[];
  abi?: string | null;
  floatAbi?: 'hard' | 'soft' | 'softfp' | null;
  /** Implied by the triple; when given, must agree with it. */
  os?: CanonicalTarget['os'] | null;
  libc?: CanonicalTarget['libc'];
  /** A GPU target's architecture, the same as cpu (and its vendor, which the triple implies). */
  gpu?: { vendor?: 'nvidia' | 'amd'; arch?: string } | null;
}

export type TargetInput = string | TargetDescriptorInput;
