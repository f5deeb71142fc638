import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { TargetsService } from './targets.service';

export class ToolchainDto {
  @ApiProperty({ example: 'clang' }) key: string;
  @ApiProperty({ example: '19.1.7' }) version: string;
}

export class TargetDto {
  @ApiProperty({ example: 'aarch64-linux-gnu' }) name: string;
  @ApiProperty({ example: 'aarch64-unknown-linux-gnu' }) triple: string;
  @ApiProperty({ example: 'cpu', description: 'The worker pool whose queue builds for this target go to' }) pool: string;
  @ApiProperty() description: string;
  @ApiProperty({ enum: ['linux', 'wasi'] }) os: string;
  @ApiProperty({ enum: ['cpu', 'wasm'] }) kind: string;
  @ApiProperty({ description: 'Whether a live worker can build it now' }) available: boolean;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Why it is not available' }) reason: string | null;
  @ApiProperty({ description: 'How many live workers serve it' }) workers: number;
  @ApiProperty({ type: [ToolchainDto] }) toolchains: ToolchainDto[];
  @ApiProperty({ type: [String], description: 'CPU names accepted in a descriptor\'s "cpu" (from the live toolchain)' }) cpus: string[];
  @ApiProperty({ example: 'verify-aarch64', description: 'The pool of workers that run what is built for it' }) verifyPool: string;
  @ApiProperty({ description: 'Whether a live worker can verify builds for it now' }) verifiable: boolean;
  @ApiProperty({ type: [String], example: ['qemu-aarch64'], description: 'How live workers run its code' }) runners: string[];
}

export class PresetDto {
  @ApiProperty({ example: 'graviton3' }) name: string;
  @ApiProperty({ example: 'aarch64-linux-gnu' }) target: string;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'neoverse-v1' }) cpu: string | null;
  @ApiProperty({ type: [String] }) features: string[];
  @ApiProperty() description: string;
  @ApiProperty() available: boolean;
}

export class TargetCatalogDto {
  @ApiProperty({ type: [TargetDto] }) targets: TargetDto[];
  @ApiProperty({ type: [PresetDto] }) presets: PresetDto[];
}

@ApiTags('targets')
@ApiBearerAuth()
@Controller('v1/targets')
export class TargetsController {
  constructor(private readonly targets: TargetsService) {}

  @Get()
  @ApiOkResponse({ type: TargetCatalogDto, description: 'Every target Kiln knows, and whether a live worker can build it now' })
  async list(): Promise<TargetCatalogDto> {
    const { targets } = await this.targets.snapshot();
    const byName = new Map(targets.map((t) => [t.spec.name, t]));
    return {
      targets: targets.map((t) => ({
        name: t.spec.name,
        triple: t.spec.triple,
        pool: t.spec.pool,
        description: t.spec.description,
        os: t.spec.os,
        kind: t.spec.family === 'wasm' ? 'wasm' : 'cpu',
        available: t.available,
        reason: t.reason,
        workers: t.workers,
        toolchains: t.toolchains,
        cpus: t.cpus,
        verifyPool: t.spec.verifyPool,
        verifiable: t.verifiable,
        runners: t.runners,
      })),
      presets: this.targets.presets().map((p) => ({ ...p, features: [...p.features], available: byName.get(p.target)?.available ?? false })),
    };
  }
}
