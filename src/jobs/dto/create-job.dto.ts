import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { REQUESTABLE_OUTPUTS } from '../artifact-kinds';
import { MAX_FILES } from '../source-rules';
import { LANGUAGE_SPECS, LANGUAGES } from '../languages';

export class SourceFileDto {
  @ApiProperty({ example: 'saxpy.c', description: 'Path relative to the project folder; no "..", no absolute paths' })
  @IsString()
  @MaxLength(255)
  path: string;

  @ApiPropertyOptional({ example: 'void saxpy(int n, float a, const float *x, float *y) { for (int i = 0; i < n; i++) y[i] += a * x[i]; }', description: 'The file as text. Give this or uploadId.' })
  @IsOptional()
  @IsString()
  content?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'An upload holding the file\'s bytes. Give this or content.' })
  @IsOptional()
  @IsUUID()
  uploadId?: string;
}

export class ArchiveRefDto {
  @ApiProperty({ format: 'uuid', description: 'The upload holding the archive' })
  @IsUUID()
  uploadId: string;
}

export class SourceDto {
  @ApiProperty({ enum: LANGUAGES, example: 'c', description: 'The source language. Aliases are accepted (cpp and cxx for c++, cu for cuda, rs for rust, golang for go, ll for llvm-ir, f90 for fortran). GET /v1/targets lists the languages of each target.' })
  @IsString()
  @IsIn(LANGUAGE_SPECS.flatMap((l) => [l.name, ...l.aliases]), { message: `language must be one of: ${LANGUAGES.join(', ')}` })
  language: string;

  @ApiPropertyOptional({ example: 'gcc', description: 'The toolchain, when the language has more than one: c and c++ are built by clang unless this is "gcc" (GCC 12, Linux targets only, no verification). GET /v1/targets lists each target\'s live toolchains.' })
  @IsOptional()
  @IsString()
  @MaxLength(32)
  toolchain?: string;

  @ApiPropertyOptional({ type: [SourceFileDto], description: `Up to ${MAX_FILES} files; translation units are compiled, headers are available to #include. Give files, an archive, or both.` })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_FILES)
  @ValidateNested({ each: true })
  @Type(() => SourceFileDto)
  files?: SourceFileDto[];

  @ApiPropertyOptional({ type: () => ArchiveRefDto, description: 'An uploaded tar, tar.gz or zip archive of the project: every file of the language in it is compiled, the rest (headers, data) is available to the build' })
  @IsOptional()
  @ValidateNested()
  @Type(() => ArchiveRefDto)
  archive?: ArchiveRefDto;

  @ApiPropertyOptional({ type: [String], example: ['-O3', '-std=c11', '-Wall'], description: 'Compiler options, from an allow-list' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(64)
  @IsString({ each: true })
  options?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { N: '1024' }, description: 'Preprocessor macros (-DNAME=value)' })
  @IsOptional()
  @IsObject()
  defines?: Record<string, string>;
}

export class GpuDescriptorDto {
  @ApiPropertyOptional({ enum: ['nvidia', 'amd'], description: 'Implied by the triple; when given, must agree with it' }) vendor?: 'nvidia' | 'amd';
  @ApiPropertyOptional({ example: 'sm_90', description: 'The GPU architecture, the same as "cpu"' }) arch?: string;
}

/** A target as an object; any other field is a 400 that names it. */
export class TargetDescriptorDto {
  @ApiProperty({ example: 'aarch64-unknown-linux-gnu', description: 'A triple or catalog name (GET /v1/targets), such as nvptx64-nvidia-cuda' }) triple: string;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'cortex-a72', description: 'The CPU, or for a GPU target its architecture (sm_89, gfx942)' }) cpu?: string | null;
  @ApiPropertyOptional({ type: [String], example: ['+neon'] }) features?: string[];
  @ApiPropertyOptional({ nullable: true, type: String }) abi?: string | null;
  @ApiPropertyOptional({ nullable: true, enum: ['hard', 'soft', 'softfp'] }) floatAbi?: 'hard' | 'soft' | 'softfp' | null;
  @ApiPropertyOptional({ nullable: true, enum: ['linux', 'wasi', 'cuda', 'amdhsa'], description: 'Implied by the triple; when given, must agree with it' }) os?: 'linux' | 'wasi' | 'cuda' | 'amdhsa' | null;
  @ApiPropertyOptional({ nullable: true, enum: ['glibc', 'wasi-libc'], description: 'Implied by the triple; when given, must agree with it' }) libc?: 'glibc' | 'wasi-libc' | null;
  @ApiPropertyOptional({ nullable: true, type: GpuDescriptorDto, description: 'For a GPU target: {"arch": "sm_90"} instead of "cpu"' }) gpu?: GpuDescriptorDto | null;
}

export class TensorUploadRefDto {
  @ApiProperty({ format: 'uuid', description: 'An upload (POST /v1/uploads) holding the tensor as raw little-endian bytes: exactly the shape\'s element count times the dtype\'s size' })
  uploadId: string;
}

export class KernelArgDto {
  @ApiProperty({ example: 'x' }) name: string;
  @ApiProperty({ example: 'float32*', description: 'A dtype (float32, float64, int8..int64, uint8..uint64) for a scalar, or the dtype followed by * for a buffer' }) type: string;
  @ApiPropertyOptional({ description: 'The value of a scalar (a string for 64-bit integers beyond 2^53)', oneOf: [{ type: 'number' }, { type: 'string' }] }) value?: number | string;
  @ApiPropertyOptional({ type: [Number], example: [1000], description: 'A buffer\'s shape' }) shape?: number[];
  @ApiPropertyOptional({ enum: ['in', 'out', 'inout'], default: 'in' }) dir?: 'in' | 'out' | 'inout';
  @ApiPropertyOptional({ type: [Number], example: [-1, 1], description: 'Inputs are seeded random numbers in [min, max] (default [-1, 1] for floats)' }) range?: [number, number];
  @ApiPropertyOptional({ type: TensorUploadRefDto, description: 'An in or inout buffer: an uploaded tensor to use instead of seeded random numbers (give range or input, not both)' }) input?: TensorUploadRefDto;
  @ApiPropertyOptional({ type: TensorUploadRefDto, description: 'An out or inout buffer: an uploaded tensor of the values it must hold after the call. Give it for every output or for none; with every output given, no reference build is made.' }) expected?: TensorUploadRefDto;
}

export class ReferenceFileDto {
  @ApiProperty({ example: 'saxpy_ref.c', description: 'Path relative to the reference\'s folder; the same rules as source.files' }) path: string;
  @ApiPropertyOptional({ description: 'The file as text. Give this or uploadId.' }) content?: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'An upload holding the file\'s bytes. Give this or content.' }) uploadId?: string;
}

export class ReferenceSourceDto {
  @ApiProperty({ type: [ReferenceFileDto], description: 'The reference implementation, in the job\'s language, defining the same entry (a kernel check) or main (a program check)' }) files: ReferenceFileDto[];
  @ApiPropertyOptional({ type: [String], example: ['-O2'], description: 'Compiler options for the reference, from the same allow-list as source.options; default: the job\'s options (none for a CUDA job\'s C or C++ reference). Fast-math and FP contraction are always off.' }) options?: string[];
  @ApiPropertyOptional({ enum: ['c', 'c++'], description: 'CUDA kernel checks only: the reference is a host function with the kernel\'s signature in C or C++ (default c++)' }) language?: 'c' | 'c++';
}

export class KernelLaunchDto {
  @ApiProperty({ type: [Number], example: [256], description: 'Grid dimensions x, y, z (1 to 3 numbers; missing ones are 1)' }) grid: number[];
  @ApiProperty({ type: [Number], example: [256], description: 'Block dimensions x, y, z (at most 1024 threads in all)' }) block: number[];
  @ApiPropertyOptional({ example: 0, description: 'Dynamic shared memory in bytes (default 0)' }) sharedBytes?: number;
}

export class ToleranceDto {
  @ApiPropertyOptional({ example: 1e-5 }) rtol?: number;
  @ApiPropertyOptional({ example: 1e-6 }) atol?: number;
  @ApiPropertyOptional({ example: 4, description: 'Elements within this many units in the last place also pass' }) maxUlp?: number;
}

export class ProgramCheckDto {
  @ApiPropertyOptional({ type: [String] }) args?: string[];
  @ApiPropertyOptional({ description: 'Standard input' }) stdin?: string;
  @ApiPropertyOptional({ description: 'Expected { stdout, exitCode }; without it, a reference build on the worker\'s host says what to expect', example: { stdout: 'hello\n', exitCode: 0 } })
  expect?: { stdout?: string; exitCode?: number };
  @ApiPropertyOptional({ example: 10000 }) timeoutMs?: number;
}

export class VerifyDto {
  @ApiPropertyOptional({ example: 'saxpy', description: 'A kernel check: the C function to call (for CUDA, the __global__ function to launch)' }) entry?: string;
  @ApiPropertyOptional({ type: KernelLaunchDto, description: 'CUDA kernel checks only (and required there): how the kernel is launched' }) launch?: KernelLaunchDto;
  @ApiPropertyOptional({ enum: ['c', 'c++'], description: 'The entry\'s linkage; default: the source language\'s' }) linkage?: 'c' | 'c++';
  @ApiPropertyOptional({ type: [KernelArgDto], description: 'The entry\'s arguments, in order' }) args?: KernelArgDto[];
  @ApiPropertyOptional({ type: ToleranceDto }) tolerance?: ToleranceDto;
  @ApiPropertyOptional({ example: 7, description: 'Seed of the random inputs; stored, so a check can be repeated bit for bit' }) seed?: number;
  @ApiPropertyOptional({ example: 20000, description: 'How long one run of the check may take, ms. Kernel and program checks: 100 to 120000, default 20000. Model checks: 100 to 3600000; by default it follows the work, 20000 plus the model\'s FLOPs at the runner\'s speed (natively, under qemu, as WebAssembly)' }) timeoutMs?: number;
  @ApiPropertyOptional({ example: 900, minimum: 0, maximum: 604800, description: 'How long a compiled build may wait, seconds, while no live runner can run its code (no worker with a GPU of its architecture, say). Then the build ends with its artifacts and verification "not-run" (not "passed"). Default: the service\'s KILN_VERIFY_DEVICE_WAIT_SECONDS (900). A build that a runner has taken is not cut short by it' }) deviceWaitSeconds?: number;
  @ApiPropertyOptional({ type: ProgramCheckDto, description: 'A whole-program check instead of a kernel check' }) program?: ProgramCheckDto;
  @ApiPropertyOptional({ description: 'Model checks on CPU and WebAssembly targets only: also profile the build on its runner. The report then has `profile`: each kernel of the compiled graph (after fusion) with the ONNX nodes it covers, its FLOPs, time and share, and the model\'s latency (median of the timed runs after warm-up), peak memory, weight and code size. `true`, or { "runs": N } timed runs (1 to 100; default 20 natively, 3 under an emulator or as WebAssembly, where times are the emulator\'s and the shares are what tells).', oneOf: [{ type: 'boolean' }, { type: 'object', properties: { runs: { type: 'integer', minimum: 1, maximum: 100 } } }], example: true }) profile?: boolean | { runs?: number };
  @ApiPropertyOptional({ type: ReferenceSourceDto, description: 'A separate reference source, built for the worker\'s host with the same harness (and the job\'s defines) instead of the job\'s own sources. Not with uploaded expected outputs or program.expect.' }) reference?: ReferenceSourceDto;
}

export class ModelRefDto {
  @ApiProperty({ format: 'uuid', description: 'An upload holding the .onnx file' })
  @IsUUID()
  uploadId: string;

  @ApiPropertyOptional({ example: 4, minimum: 1, maximum: 64, description: 'Threads the compiled model\'s kernels may use (default 1): a pthread pool that starts on the first run (link with -lpthread where the C library needs it); wasm32 runs on one' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(64)
  threads?: number;
}

@ApiExtraModels(TargetDescriptorDto, VerifyDto)
export class CreateJobDto {
  @ApiPropertyOptional({ type: SourceDto, description: 'Source code to compile. Give this or model.' })
  @IsOptional()
  @ValidateNested()
  @Type(() => SourceDto)
  source?: SourceDto;

  @ApiPropertyOptional({ type: ModelRefDto, description: 'An ONNX model to compile to dependency-free code. Give this or source.' })
  @IsOptional()
  @ValidateNested()
  @Type(() => ModelRefDto)
  model?: ModelRefDto;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'array', items: { type: 'integer' } }, example: { x: [1, 3, 224, 224] }, description: 'A model\'s input shapes, binding its symbolic dimensions' })
  @IsOptional()
  @IsObject()
  inputShapes?: Record<string, number[]>;

  @ApiProperty({
    description: 'Short names, presets or descriptor objects; see GET /v1/targets',
    example: ['x86_64-linux-gnu', 'aarch64-linux-gnu', { triple: 'riscv64-linux-gnu', features: ['+v'] }],
    type: 'array',
    items: { oneOf: [{ type: 'string' }, { $ref: getSchemaPath(TargetDescriptorDto) }] },
  })
  @IsDefined({ message: 'targets is required: a list such as ["x86_64-linux-gnu"]; see GET /v1/targets' })
  @IsArray()
  @ArrayMinSize(1, { message: 'targets must name at least one target' })
  @ArrayMaxSize(32)
  targets: (string | TargetDescriptorDto)[];

  @ApiPropertyOptional({ enum: REQUESTABLE_OUTPUTS, isArray: true, example: ['object', 'assembly'], description: 'What to produce; default: the language\'s usual output (object for C, C++, LLVM IR and Fortran; executable for Go and Rust; ptx and cubin for CUDA; code-object for HIP). ptx, cubin and fatbin are CUDA device code; code-object is an AMD GPU code object. A model build also always gives its header, C source and metadata.' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(REQUESTABLE_OUTPUTS, { each: true, message: `each output must be one of: ${REQUESTABLE_OUTPUTS.join(', ')}` })
  outputs?: string[];

  @ApiPropertyOptional({
    description: 'Run what was built on an emulator or device and compare it with a reference. `true` runs the program (its main) with no arguments and compares its output with a reference build.',
    oneOf: [{ type: 'boolean' }, { $ref: getSchemaPath(VerifyDto) }],
  })
  @IsOptional()
  verify?: boolean | VerifyDto;

  @ApiPropertyOptional({ example: 'https://ci.example.com/kiln-webhook', maxLength: 2048, description: 'An http or https URL that gets a signed POST (a job.finished event) when every build of the job has finished; see the README\'s Webhooks section. Addresses on loopback, private or link-local networks are refused unless the server allows them.' })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  callbackUrl?: string;

  @ApiPropertyOptional({ enum: ['use', 'bypass'], description: 'Default use. use: a build whose input, target and toolchain version match an earlier succeeded build of this tenant reuses its result without compiling (each build says hit or miss). bypass: always compile (the fresh result then replaces the cached one).' })
  @IsOptional()
  @IsIn(['use', 'bypass'], { message: 'cache must be "use" or "bypass"' })
  cache?: 'use' | 'bypass';
}
