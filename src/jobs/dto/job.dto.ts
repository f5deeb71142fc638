import { LANGUAGES } from '../languages';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ARTIFACT_KINDS } from '../artifact-kinds';
import { BUILD_STATUSES, JOB_STATUSES } from '../build-status';
import { VERIFICATION_STATUSES } from '../../verification/report';

export class DiagnosticDto {
  @ApiPropertyOptional({ nullable: true, type: String, example: 'saxpy.c' }) file: string | null;
  @ApiPropertyOptional({ nullable: true, type: Number, example: 4 }) line: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number, example: 3 }) column: number | null;
  @ApiProperty({ enum: ['fatal', 'error', 'warning', 'note', 'remark'] }) severity: string;
  @ApiProperty() message: string;
  @ApiPropertyOptional({ example: '-Wunused-variable' }) option?: string;
}

export class ArtifactDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) buildId: string;
  @ApiProperty({ enum: [...ARTIFACT_KINDS, 'bundle', 'report'], description: 'bundle: the files a runner verifies; report: the verification report; weights: a model\'s weights as raw bytes (model.weights.bin)' }) kind: string;
  @ApiProperty({ example: 'saxpy.o' }) name: string;
  @ApiProperty({ example: 1234 }) size: number;
  @ApiProperty({ example: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }) sha256: string;
  @ApiProperty({ example: 'application/x-object' }) contentType: string;
  @ApiProperty({ example: '/v1/artifacts/7f6c.../content' }) contentUrl: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class GpuDto {
  @ApiProperty({ enum: ['nvidia', 'amd'] }) vendor: string;
  @ApiProperty({ example: 'sm_90' }) arch: string;
}

export class BuildTargetDto {
  @ApiProperty({ example: 'graviton3', description: 'The name used in the request' }) requested: string;
  @ApiProperty({ example: 'aarch64-linux-gnu' }) name: string;
  @ApiProperty({ example: 'aarch64-unknown-linux-gnu' }) triple: string;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'neoverse-v1' }) cpu: string | null;
  @ApiProperty({ type: [String] }) features: string[];
  @ApiPropertyOptional({ nullable: true, type: String }) abi: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) floatAbi: string | null;
  @ApiProperty({ example: 'linux', enum: ['linux', 'wasi', 'cuda', 'amdhsa'] }) os: string;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'glibc', description: 'null for GPU code' }) libc: string | null;
  @ApiPropertyOptional({ nullable: true, type: GpuDto, description: 'For a GPU target, its vendor and architecture' }) gpu?: GpuDto | null;
}

export class ToolchainRefDto {
  @ApiProperty({ example: 'clang' }) key: string;
  @ApiProperty({ example: '19.1.7' }) version: string;
}

export class TimingsDto {
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'From creation until a worker started it' }) queuedMs: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'From start until the compile finished' }) compileMs: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'Time spent inside toolchain processes' }) toolchainMs: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'From the end of the compile until verification finished' }) verifyMs: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'From creation until the build finished' }) totalMs: number | null;
}

export class BuildEventDto {
  @ApiPropertyOptional({ nullable: true, enum: BUILD_STATUSES }) from: string | null;
  @ApiProperty({ enum: BUILD_STATUSES }) to: string;
  @ApiProperty({ format: 'date-time' }) at: string;
  @ApiPropertyOptional({ nullable: true, type: String }) worker: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) message: string | null;
}

export class ToleranceUsedDto {
  @ApiProperty() rtol: number;
  @ApiProperty() atol: number;
  @ApiPropertyOptional({ nullable: true, type: Number }) maxUlp: number | null;
}

export class WorstElementDto {
  @ApiProperty() index: number;
  @ApiProperty({ oneOf: [{ type: 'number' }, { type: 'string' }], description: 'A number, or NaN / Infinity / a 64-bit integer as a string' }) expected: number | string;
  @ApiProperty({ oneOf: [{ type: 'number' }, { type: 'string' }] }) actual: number | string;
}

export class ErrorDecadeDto {
  @ApiProperty({ example: -7, description: 'The bin holds absolute errors in [10^exponent, 10^(exponent+1))' }) exponent: number;
  @ApiProperty() count: number;
  @ApiProperty({ description: 'How many of them fail the tolerance' }) failed: number;
}

export class ErrorHistogramDto {
  @ApiProperty({ description: 'Elements equal to the reference' }) exact: number;
  @ApiProperty({ type: [ErrorDecadeDto], description: 'Non-empty bins only, by exponent' }) decades: ErrorDecadeDto[];
  @ApiProperty({ description: 'Elements where NaN or an infinity on one side is not matched on the other' }) nonFinite: number;
}

export class WorstElementEntryDto extends WorstElementDto {
  @ApiPropertyOptional({ nullable: true, type: Number, description: '|actual - expected|; null when one side is NaN or infinite' }) absError: number | null;
  @ApiProperty() passed: boolean;
}

export class OutputComparisonDto {
  @ApiProperty({ example: 'y' }) name: string;
  @ApiProperty({ example: 'float32' }) dtype: string;
  @ApiProperty() count: number;
  @ApiProperty() passed: boolean;
  @ApiProperty() maxAbsError: number;
  @ApiProperty() maxRelError: number;
  @ApiProperty({ description: 'Largest distance in units in the last place, over the elements whose reference is larger than atol in magnitude (near zero the absolute error is what counts)' }) maxUlp: number;
  @ApiProperty() mismatches: number;
  @ApiProperty({ description: 'Elements where NaN or an infinity on one side is not matched on the other' }) nanInfMismatches: number;
  @ApiPropertyOptional({ nullable: true, type: WorstElementDto }) worst: WorstElementDto | null;
  @ApiProperty({ type: ToleranceUsedDto }) tolerance: ToleranceUsedDto;
  @ApiPropertyOptional({ type: ErrorHistogramDto, description: 'How the absolute errors are distributed (reports made before it was added lack it)' }) errorHistogram?: ErrorHistogramDto;
  @ApiPropertyOptional({ type: [WorstElementEntryDto], description: 'The elements with the largest errors, failing ones first, worst first (at most 8)' }) worstElements?: WorstElementEntryDto[];
  @ApiPropertyOptional({ description: 'Present when the check says little: at least 90% of the reference\'s values lie within atol of zero, so any answer of that size passes. Says how many, and what to do' }) weak?: string;
}

export class ProgramRunDto {
  @ApiPropertyOptional({ nullable: true, type: Number }) exitCode: number | null;
  @ApiPropertyOptional({ nullable: true, type: String }) signal: string | null;
  @ApiProperty() timedOut: boolean;
  @ApiProperty() stdout: string;
  @ApiProperty() stderr: string;
  @ApiPropertyOptional({ nullable: true, type: String }) expectedStdout: string | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) expectedExitCode: number | null;
  @ApiProperty() wallMs: number;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'Peak resident set size of the run in kB (ru_maxrss, measured with GNU time): of the program natively, of qemu-user with the guest it emulates (so it includes the emulator\'s own memory), or of Node running the wasm module; null where it was not measured' }) peakMemoryKb: number | null;
}

export class KernelProfileDto {
  @ApiProperty({ example: 'Conv /features/0/Conv + Relu', description: 'The kernel, as the generated C names it: its node and what was fused into it' }) label: string;
  @ApiProperty({ type: [String], description: 'The ONNX nodes it covers' }) nodes: string[];
  @ApiProperty({ type: [String], example: ['Conv', 'Relu'], description: 'Their operator types' }) ops: string[];
  @ApiProperty({ description: 'Estimated floating-point operations of one run' }) flops: number;
  @ApiProperty({ description: 'Time per run, ms' }) ms: number;
  @ApiProperty({ description: 'Share of the kernels\' total time, 0 to 1' }) share: number;
  @ApiProperty({ description: 'flops over ms' }) gflops: number;
}

export class ModelProfileDto {
  @ApiProperty({ enum: ['native', 'emulated', 'wasm'], description: 'How the times were taken: on the CPU itself, under an emulator (the shares tell where the work is; the times are not the device\'s), or as WebAssembly' }) clock: string;
  @ApiProperty({ description: 'Median time of one run after warm-up, ms' }) latencyMs: number;
  @ApiProperty({ description: 'Timed runs' }) runs: number;
  @ApiProperty({ description: 'The kernels\' times added up, per run, ms: the rest of the latency is the entry point\'s own work' }) kernelsMs: number;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'Peak resident memory of the profiling run, bytes' }) peakMemoryBytes: number | null;
  @ApiProperty() weightsBytes: number;
  @ApiProperty({ description: 'The intermediate tensors\' buffers, bytes' }) activationBytes: number;
  @ApiProperty({ description: 'Machine code of the compiled model (its object\'s code sections), bytes' }) codeBytes: number;
  @ApiProperty() flops: number;
  @ApiProperty({ description: 'flops over latencyMs' }) gflops: number;
  @ApiProperty({ type: [KernelProfileDto], description: 'Every kernel, slowest first' }) kernels: KernelProfileDto[];
}

export class VerifiedFileDto {
  @ApiProperty({ example: 'program', description: 'The file of the verification bundle that ran' }) file: string;
  @ApiProperty({ example: '9f2c…', description: 'Its sha256, taken before it ran' }) sha256: string;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'main', description: "The build's artifact with the same bytes: the delivered executable a program check ran, else the bundle's own program (verify/program); null for none" }) artifact: string | null;
}

export class VerificationDto {
  @ApiProperty({ enum: VERIFICATION_STATUSES, description: 'passed or failed: the verdict on the outputs. unfinished: the run went past its time limit, so nothing was compared (the build fails). not-run: no runner that can run the code served its pool within verify.deviceWaitSeconds; the build succeeds with its artifacts, unproven' }) status: string;
  @ApiProperty({ example: 'qemu-aarch64', description: 'How the code ran; for not-run, the pool that no runner served' }) runner: string;
  @ApiProperty() worker: string;
  @ApiProperty({ enum: ['kernel', 'program', 'model'] }) kind: string;
  @ApiProperty({ description: 'One line: what passed, or which output and element failed' }) summary: string;
  @ApiProperty({ description: 'What the outputs were compared with' }) reference: string;
  @ApiPropertyOptional({ nullable: true, type: Number }) seed: number | null;
  @ApiProperty() runMs: number;
  @ApiProperty({ type: [OutputComparisonDto] }) outputs: OutputComparisonDto[];
  @ApiPropertyOptional({ type: ProgramRunDto }) program?: ProgramRunDto;
  @ApiPropertyOptional({ type: VerifiedFileDto, description: 'What ran, by sha256 (reports made before it was added lack it)' }) ran?: VerifiedFileDto;
  @ApiPropertyOptional({ type: ModelProfileDto, description: 'A model job with verify.profile: the build profiled on this runner' }) profile?: ModelProfileDto;
  @ApiPropertyOptional({ description: 'A model job with verify.profile whose profiling run failed: why (the check\'s verdict stands)' }) profileError?: string;
}

export class BuildDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ type: BuildTargetDto }) target: BuildTargetDto;
  @ApiProperty({ example: 'cpu' }) pool: string;
  @ApiProperty({ enum: BUILD_STATUSES }) status: string;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Why the build is in this state: what it waits for, or why it failed' }) statusReason: string | null;
  @ApiPropertyOptional({ nullable: true, type: ToolchainRefDto }) toolchain: ToolchainRefDto | null;
  @ApiPropertyOptional({ nullable: true, type: String }) worker: string | null;
  @ApiProperty() attempts: number;
  @ApiProperty({ type: TimingsDto }) timings: TimingsDto;
  @ApiProperty({ type: [DiagnosticDto] }) diagnostics: DiagnosticDto[];
  @ApiProperty({ type: [ArtifactDto] }) artifacts: ArtifactDto[];
  @ApiProperty({ type: [BuildEventDto], description: 'Every state change, oldest first' }) events: BuildEventDto[];
  @ApiPropertyOptional({ nullable: true, type: String, example: 'verify-aarch64', description: 'Where it is verified, when the job asks to verify' }) verifyPool: string | null;
  @ApiPropertyOptional({ nullable: true, type: VerificationDto, description: 'The verification report, once a runner has checked the build' }) verification: VerificationDto | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'The toolchain output (capped)' }) log: string | null;
  @ApiPropertyOptional({ nullable: true, type: () => BuildCacheDto, description: 'Whether the result came from the build cache; null until a worker or the API decided' }) cache: BuildCacheDto | null;
}

export class BuildCacheDto {
  @ApiProperty({ enum: ['hit', 'miss', 'bypass'] }) status: string;
  @ApiPropertyOptional({ nullable: true, format: 'uuid', type: String, description: 'For a hit, the earlier build whose result was reused. That build may since have been deleted (DELETE ?purge=true): this copy of its result stands on its own' }) from: string | null;
}

export class JobSourceFileDto {
  @ApiProperty() path: string;
  @ApiProperty() size: number;
  @ApiPropertyOptional({ format: 'uuid' }) uploadId?: string;
}

export class JobArchiveDto {
  @ApiProperty({ format: 'uuid' }) uploadId: string;
  @ApiProperty({ example: 'project.tar.gz' }) filename: string;
  @ApiProperty({ type: [String], description: 'The files in it, in archive order' }) files: string[];
  @ApiProperty({ description: 'The bytes its files expand to' }) bytes: number;
}

export class JobSourceDto {
  @ApiProperty({ enum: LANGUAGES }) language: string;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'gcc', description: 'The toolchain the request asked for instead of the language\'s own; null for the default' }) toolchain: string | null;
  @ApiProperty({ type: [JobSourceFileDto] }) files: JobSourceFileDto[];
  @ApiPropertyOptional({ nullable: true, type: JobArchiveDto, description: 'The project archive, when one was given' }) archive: JobArchiveDto | null;
  @ApiProperty({ type: [String] }) options: string[];
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) defines: Record<string, string>;
}

export class ModelTensorDto {
  @ApiProperty() name: string;
  @ApiProperty({ example: 'float32' }) dtype: string;
  @ApiProperty({ type: [Number] }) shape: number[];
}

export class JobModelDto {
  @ApiProperty({ format: 'uuid' }) uploadId: string;
  @ApiProperty({ example: 'mobilenet.onnx' }) filename: string;
  @ApiProperty() size: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'array', items: { type: 'integer' } } }) inputShapes: Record<string, number[]>;
  @ApiProperty({ example: 1, description: 'Threads the compiled kernels may use' }) threads: number;
  @ApiProperty({ type: [ModelTensorDto] }) inputs: ModelTensorDto[];
  @ApiProperty({ type: [ModelTensorDto] }) outputs: ModelTensorDto[];
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, description: 'Operators and how often each occurs' }) ops: Record<string, number>;
}

export class JobDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: JOB_STATUSES, description: 'Derived from the builds' }) status: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
  @ApiPropertyOptional({ nullable: true, type: JobSourceDto, description: 'The source code, for a source job' }) source: JobSourceDto | null;
  @ApiPropertyOptional({ nullable: true, type: JobModelDto, description: 'The model, for a model job' }) model: JobModelDto | null;
  @ApiProperty({ enum: ARTIFACT_KINDS, isArray: true }) outputs: string[];
  @ApiPropertyOptional({ nullable: true, type: 'object', additionalProperties: true, description: 'The verification asked for, with its defaults filled in (tolerance, seed)' }) verify: Record<string, unknown> | null;
  @ApiProperty({ type: [BuildDto] }) builds: BuildDto[];
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Where the job.finished webhook goes; GET /v1/jobs/{id}/webhooks lists the delivery attempts' }) callbackUrl: string | null;
}

export class JobSummaryBuildDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() target: string;
  @ApiProperty({ enum: BUILD_STATUSES }) status: string;
}

export class JobSummaryDto {
  @ApiProperty({ format: 'uuid', example: '6ed9277b-0c1f-4c2e-9a51-3d8e2f7b4a10' }) id: string;
  @ApiProperty({ enum: JOB_STATUSES, example: 'succeeded' }) status: string;
  @ApiProperty({ format: 'date-time', example: '2026-12-08T09:30:00.000Z' }) createdAt: string;
  @ApiProperty({ enum: ['c', 'c++', 'onnx'], description: 'The source language, or onnx for a model job' }) language: string;
  @ApiProperty({ type: [JobSummaryBuildDto] }) builds: JobSummaryBuildDto[];
}

export class JobListDto {
  @ApiProperty({ type: [JobSummaryDto] }) items: JobSummaryDto[];
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Pass as ?cursor= to get the next page; null on the last page' }) nextCursor: string | null;
}
