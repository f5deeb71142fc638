import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('tenants')
export class Tenant {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text', unique: true })
  name: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** The key that signs this tenant's webhooks; made when first needed. */
  @Column({ name: 'webhook_secret', type: 'text', nullable: true, select: false })
  webhookSecret: string | null;

  @Column({ name: 'webhook_secret_created_at', type: 'timestamptz', nullable: true })
  webhookSecretCreatedAt: Date | null;

  /** The tenant's own limits; null: the configured default (KILN_QUOTA_*). */
  @Column({ name: 'quota_concurrent_builds', type: 'int', nullable: true })
  quotaConcurrentBuilds: number | null;

  @Column({ name: 'quota_storage_bytes', type: 'bigint', nullable: true, transformer: { to: (v: number | null) => v, from: (v: string | null) => (v === null ? null : Number(v)) } })
  quotaStorageBytes: number | null;

  @Column({ name: 'quota_upload_bytes', type: 'bigint', nullable: true, transformer: { to: (v: number | null) => v, from: (v: string | null) => (v === null ? null : Number(v)) } })
  quotaUploadBytes: number | null;
}
