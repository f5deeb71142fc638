import type { Language } from '../../jobs/languages';
import type { VerifySpec } from '../../verification/spec';
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export interface SourceFileInput {
  path: string;
  /** Inline text, or the id of an upload holding the file's bytes. Exactly one is set. */
  content?: string;
  uploadId?: string;
}

export interface SourceInput {
  language: Language;
  /** A toolchain other than the language's own (e.g. gcc for C); absent for the default. */
  toolchain?: string;
  files: SourceFileInput[];
  /** An uploaded archive of the project, with the files the API found in it. */
  archive?: { uploadId: string; filename: string; files: string[]; bytes: number };
  options: string[];
  defines: Record<string, string>;
}

/** A model job's input: an uploaded ONNX model, with its symbolic input dimensions bound. */
export interface ModelInput {
  uploadId: string;
  filename: string;
  inputShapes: Record<string, number[]>;
  /** Threads the compiled kernels may use; absent: 1. */
  threads?: number;
  /** What the API's check of the model found: inputs, outputs and operators. */
  summary: { inputs: { name: string; dtype: string; shape: number[] }[]; outputs: { name: string; dtype: string; shape: number[] }[]; ops: Record<string, number> };
}

export type ArtifactKind = 'object' | 'executable' | 'shared' | 'static' | 'assembly' | 'llvm-ir' | 'ptx' | 'cubin' | 'fatbin' | 'code-object' | 'header' | 'c-source' | 'metadata' | 'weights';

@Entity('jobs')
@Index(['tenantId', 'createdAt'])
export class Job {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  /** Source code, or null for a model job. */
  @Column({ type: 'jsonb', nullable: true })
  source: SourceInput | null;

  /** An ONNX model, or null for a source job. */
  @Column({ type: 'jsonb', nullable: true })
  model: ModelInput | null;

  @Column({ type: 'text', array: true })
  outputs: ArtifactKind[];

  /** What to verify after the build, or null. */
  @Column({ type: 'jsonb', nullable: true })
  verify: VerifySpec | null;

  @Column({ name: 'idempotency_key', type: 'text', nullable: true })
  idempotencyKey: string | null;

  /** A hash of the request that created the job, to tell a retry from a reused Idempotency-Key. */
  @Column({ name: 'request_sha256', type: 'text', nullable: true })
  requestSha256: string | null;

  /** Where to POST the job's result when it finishes (see webhooks/), or null. */
  @Column({ name: 'callback_url', type: 'text', nullable: true })
  callbackUrl: string | null;

  /** When the finished job's webhook was put on the webhooks queue; null until then. */
  @Column({ name: 'webhook_scheduled_at', type: 'timestamptz', nullable: true })
  webhookScheduledAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
