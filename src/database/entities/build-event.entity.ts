import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { BuildStatus } from '../../jobs/build-status';

/** One state transition of a build: when, by whom, and why. Append-only. */
@Entity('build_events')
@Index(['buildId', 'id'])
@Index(['jobId', 'id'])
export class BuildEvent {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ name: 'build_id', type: 'uuid' })
  buildId: string;

  @Column({ name: 'job_id', type: 'uuid' })
  jobId: string;

  @Column({ name: 'from_status', type: 'text', nullable: true })
  fromStatus: BuildStatus | null;

  @Column({ name: 'to_status', type: 'text' })
  toStatus: BuildStatus;

  @Column({ type: 'text', nullable: true })
  worker: string | null;

  @Column({ type: 'text', nullable: true })
  message: string | null;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  at: Date;
}
