import type { VerifySpec } from '../../verification/spec';
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export interface SourceFileInput {
  path: string;
  /** Inline text, or the id of an upload holding the file's bytes. Exactly one is set. */
  content?: string;
  uploadId?: string;
}

export interface SourceInput {
  language: 'c' | 'c++';
  files: SourceFileInput[];
  options: string[];
  defines: Record<string, string>;
}

export type ArtifactKind = 'object' | 'executable' | 'shared' | 'assembly' | 'llvm-ir';

@Entity('jobs')
@Index(['tenantId', 'createdAt'])
export class Job {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'jsonb' })
  source: SourceInput;

  @Column({ type: 'text', array: true })
  outputs: ArtifactKind[];

  /** What to verify after the build, or null. */
  @Column({ type: 'jsonb', nullable: true })
  verify: VerifySpec | null;

  @Column({ name: 'idempotency_key', type: 'text', nullable: true })
  idempotencyKey: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
