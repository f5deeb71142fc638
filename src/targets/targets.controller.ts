import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { TargetsService } from './targets.service';
import { targetKind } from './catalog';
import { LANGUAGE_SPECS, languagesFor } from '../jobs/languages';

export class ToolchainDto {
  @ApiProperty({ example: 'clang' }) key: string;
  @ApiProperty({ example: '19.1.7' }) version: string;
}

export class TargetDto {
  @ApiProperty({ example: 'aarch64-linux-gnu' }) name: string;
  @ApiProperty({ example: 'aarch64-unknown-linux-gnu' }) triple: string;
  @ApiProperty({ example: 'cpu', description: 'The worker pool whose queue builds for this target go to' }) pool: string;
  @ApiProperty() description: string;
  @ApiProperty({ enum: ['linux', 'wasi', 'cuda', 'amdhsa'] }) os: string;
  @ApiProperty({ enum: ['cpu', 'wasm', 'gpu'], description: 'How to group it: host CPUs, WebAssembly, GPUs' }) kind: string;
  @ApiPropertyOptional({ nullable: true, enum: ['nvidia', 'amd'], description: 'For a GPU target, its vendor' }) vendor: string | null;
  @ApiProperty({ type: [String], example: ['c', 'c++', 'fortran'], description: 'Languages Kiln can build for it' }) languages: string[];
  @ApiProperty({ type: [String], example: ['c', 'c++', 'c@gcc'], description: 'Languages a live worker builds for it now; "c@gcc" is C with the gcc toolchain (source.toolchain), the plain name the language\'s own toolchain' }) liveLanguages: string[];
  @ApiProperty({ type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } }, description: 'Per language (and language@toolchain for other toolchains), the outputs it can produce for this target' }) outputs: Record<string, string[]>;
  @ApiProperty({ type: [String], description: 'Target features accepted in a descriptor\'s "features" (with + or -), from the live toolchain' }) features: string[];
  @ApiProperty({ description: 'Whether a live worker can build it now' }) available: boolean;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Why it is not available' }) reason: string | null;
  @ApiProperty({ description: 'How many live workers serve it' }) workers: number;
  @ApiProperty({ type: [ToolchainDto] }) toolchains: ToolchainDto[];
  @ApiProperty({ type: [String], description: 'CPU names accepted in a descriptor\'s "cpu" (from the live toolchain)' }) cpus: string[];
  @ApiPropertyOptional({ nullable: true, type: String, example: 'verify-aarch64', description: 'The pool of workers that run what is built for it; null for GPU targets (NVIDIA GPU builds go to verify-cuda-sm_XX, one pool per architecture; AMD GPU builds have no runner)' }) verifyPool: string | null;
  @ApiProperty({ description: 'Whether a live worker can verify builds for it now' }) verifiable: boolean;
  @ApiProperty({ type: [String], example: ['qemu-aarch64'], description: 'How live workers run its code' }) runners: string[];
}

export class PresetDto {
  @ApiProperty({ example: 'graviton3' }) name: string;
  @ApiProperty({ type: [String], example: ['h100', 'h200'], description: 'Other names for the same preset' }) aliases: string[];
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
  @ApiOperation({ summary: 'List targets and presets', description: 'Every target Kiln knows, whether a live worker builds it and can verify it now (and on which runners), its toolchains, CPUs and languages; and the presets (product names such as graviton3 or h100) that stand for a target, CPU and features.' })
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
        kind: targetKind(t.spec.family),
        vendor: t.spec.gpu?.vendor ?? null,
        languages: languagesFor(t.spec.name),
        liveLanguages: t.languages,
        outputs: Object.fromEntries(
          LANGUAGE_SPECS.flatMap((l) => [
            ...(t.spec.name in l.targets ? [[l.name, [...l.targets[t.spec.name]]]] : []),
            ...(l.alternatives ?? []).filter((a) => t.spec.name in a.targets).map((a) => [`${l.name}@${a.toolchain}`, [...a.targets[t.spec.name]]]),
          ]),
        ),
        features: t.features,
        available: t.available,
        reason: t.reason,
        workers: t.workers,
        toolchains: t.toolchains,
        cpus: t.cpus,
        verifyPool: t.spec.verifyPool,
        verifiable: t.verifiable,
        runners: t.runners,
      })),
      presets: this.targets.presets().map((p) => ({ ...p, aliases: [...(p.aliases ?? [])], features: [...p.features], available: byName.get(p.target)?.available ?? false })),
    };
  }
}
