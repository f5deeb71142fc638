import type { VerificationReport } from '../../verification/report';
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { BuildStatus } from '../../jobs/build-status';
import type { Diagnostic } from '../../jobs/diagnostic';
import type { CanonicalTarget } from '../../targets/target';

@Entity('builds')
@Index(['jobId'])
export class Build {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'job_id', type: 'uuid' })
  jobId: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  /** The target's index in the request, so builds are listed in the order they were asked for. */
  @Column({ type: 'int' })
  position: number;

  /** The name the client used (a short name, a preset, or the triple of a descriptor object). */
  @Column({ name: 'target_name', type: 'text' })
  targetName: string;

  @Column({ type: 'jsonb' })
  target: CanonicalTarget;

  @Column({ type: 'text' })
  pool: string;

  @Column({ type: 'text' })
  status: BuildStatus;

  /** Why the build is in its state, in words: what it waits for, or why it failed. */
  @Column({ name: 'status_reason', type: 'text', nullable: true })
  statusReason: string | null;

  @Column({ name: 'toolchain_key', type: 'text', nullable: true })
  toolchainKey: string | null;

  @Column({ name: 'toolchain_version', type: 'text', nullable: true })
  toolchainVersion: string | null;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  diagnostics: Diagnostic[];

  /** The toolchain's combined output, capped. */
  @Column({ type: 'text', nullable: true })
  log: string | null;

  @Column({ type: 'text', nullable: true })
  worker: string | null;

  /** The queue of runners that can execute this target's code, when the job asks to verify. */
  @Column({ name: 'verify_pool', type: 'text', nullable: true })
  verifyPool: string | null;

  /** The verification report, once a runner has checked the build. */
  @Column({ type: 'jsonb', nullable: true })
  verification: VerificationReport | null;

  @Column({ name: 'verified_at', type: 'timestamptz', nullable: true })
  verifiedAt: Date | null;

  @Column({ type: 'int', default: 0 })
  attempts: number;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ name: 'compiled_at', type: 'timestamptz', nullable: true })
  compiledAt: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;

  /** Wall time spent inside toolchain processes, in milliseconds. */
  @Column({ name: 'toolchain_ms', type: 'int', nullable: true })
  toolchainMs: number | null;

  /** A hash over everything that decides the result except the toolchain (see build-cache.ts). */
  @Column({ name: 'input_digest', type: 'text', nullable: true })
  inputDigest: string | null;

  /** Whether the result came from the build cache; null while that is not known yet. */
  @Column({ type: 'text', nullable: true })
  cache: 'hit' | 'miss' | 'bypass' | null;

  /** For a cache hit, the build whose result was reused. */
  @Column({ name: 'cached_from', type: 'uuid', nullable: true })
  cachedFrom: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
