import { BadRequestException, Body, Controller, Get, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiServiceUnavailableResponse, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { IsObject, IsOptional, IsUUID } from 'class-validator';
import { CurrentCaller } from '../auth/auth.decorators';
import { RequireScope } from '../auth/scopes';
import type { Caller } from '../auth/auth.service';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { OBJECT_STORE, ObjectStore } from '../storage/object-store';
import { UploadsService } from '../uploads/uploads.service';
import { COMPILER_VERSION, OPS } from '../../compiler/src/compile';
import { CUDA_OPS } from '../../compiler/src/cuda/generate';
import { LOWERED_OPS } from '../../compiler/src/lower';
import { checkInputShapes, MODEL_TARGET_KINDS, ModelRefusal } from './inspect';
import { ModelCheckService } from './model-check.service';

export class InspectModelDto {
  @ApiProperty({ format: 'uuid', description: 'An upload holding the .onnx file' })
  @IsUUID()
  uploadId: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'array', items: { type: 'integer' } }, example: { x: [1, 3, 224, 224] }, description: 'Shapes that bind symbolic dimensions, as a job would give them' })
  @IsOptional()
  @IsObject()
  inputShapes?: Record<string, number[]>;
}

export class InspectedTensorDto {
  @ApiProperty({ example: 'x' }) name: string;
  @ApiProperty({ example: 'float32' }) dtype: string;
  @ApiProperty({ type: 'array', items: { oneOf: [{ type: 'integer' }, { type: 'string' }] }, example: ['batch', 3, 224, 224], description: 'Whole numbers, or the name of a symbolic dimension that inputShapes has not bound; ["*"] alone: the model declares no shape at all (give the whole shape in inputShapes)' })
  shape: (number | string)[];
}

export class ModelInspectionDto {
  @ApiProperty({ format: 'uuid' }) uploadId: string;
  @ApiProperty({ example: 'mobilenet.onnx' }) filename: string;
  @ApiProperty() size: number;
  @ApiPropertyOptional({ nullable: true, type: Number, example: 13 }) opset: number | null;
  @ApiProperty({ type: [InspectedTensorDto] }) inputs: InspectedTensorDto[];
  @ApiProperty({ type: [InspectedTensorDto], description: 'Inferred shapes once every input dimension is bound; otherwise as the model declares them' }) outputs: InspectedTensorDto[];
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, description: 'Operators and how often each occurs' }) ops: Record<string, number>;
  @ApiProperty({ type: [String], example: ['NonMaxSuppression'], description: 'Operators the model compiler does not support' }) unsupportedOps: string[];
  @ApiProperty({ type: [String], example: ['x[batch]'], description: 'Input dimensions that inputShapes must bind' }) unboundDimensions: string[];
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Why a job with this model and these shapes would be refused; null when it would be accepted' }) problem: string | null;
}

export class ModelCompilerDto {
  @ApiProperty({ example: 'kiln-onnx' }) name: string;
  @ApiProperty({ example: '0.1.0' }) version: string;
  @ApiProperty({ example: 'c', description: 'What it generates' }) backend: string;
  @ApiProperty({ type: [String], example: ['cpu', 'wasm'], description: 'The kinds of target (GET /v1/targets, "kind") it compiles models for' }) targetKinds: string[];
  @ApiPropertyOptional({ type: [String], example: ['nvptx64-nvidia-cuda'], description: 'When set, only these targets of those kinds' }) targets?: string[];
  @ApiProperty({ type: [String], description: 'The ONNX operators it supports, sorted' }) ops: string[];
}

export class ModelCompilersDto {
  @ApiProperty({ type: [ModelCompilerDto] }) compilers: ModelCompilerDto[];
}

@ApiTags('models')
@ApiBearerAuth()
@Controller('v1/models')
export class ModelsController {
  constructor(
    private readonly uploads: UploadsService,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
    private readonly models: ModelCheckService,
  ) {}

  @Get('compilers')
  @ApiOperation({ summary: 'List the model compilers', description: 'Each model compiler, the kinds of target it builds for, and the ONNX operators it supports, so a model can be checked before it is sent.' })
  @ApiOkResponse({ type: ModelCompilersDto, description: 'The model compilers, the kinds of target each serves and the operators each supports' })
  compilers(): ModelCompilersDto {
    // Sequence operators and Gradient are lowered to tensor operators first, for either backend.
    return {
      compilers: [
        { name: 'kiln-onnx', version: COMPILER_VERSION, backend: 'c', targetKinds: [...MODEL_TARGET_KINDS], ops: [...new Set([...OPS.keys(), ...LOWERED_OPS])].sort() },
        { name: 'kiln-onnx', version: COMPILER_VERSION, backend: 'cuda', targetKinds: ['gpu'], targets: ['nvptx64-nvidia-cuda'], ops: [...new Set([...CUDA_OPS, ...LOWERED_OPS])].sort() },
      ],
    };
  }

  @Post('inspect')
  @ApiOperation({ summary: 'Inspect an uploaded model', description: 'Reads an uploaded ONNX model as a job would: its inputs and outputs with their shapes (bound by inputShapes), the operators it uses, and which targets can compile them. Nothing is built.' })
  @HttpCode(200)
  @RequireScope('read') // reads an upload; changes nothing
  @ApiOkResponse({ type: ModelInspectionDto, description: 'What the model takes and gives, its operators, and whether a job with it would be accepted' })
  @ApiBadRequestResponse({ description: 'The upload is not a readable ONNX model, claims more than it holds (a tensor of more dimensions or elements than its data, more nodes than KILN_MODEL_MAX_NODES), or inputShapes is malformed' })
  @ApiNotFoundResponse({ description: 'No such upload for this tenant' })
  @ApiUnprocessableEntityResponse({ description: 'The model could not be read within the time or memory the API gives one model (KILN_MODEL_CHECK_TIMEOUT_MS, KILN_MODEL_CHECK_MEMORY_MB)' })
  @ApiServiceUnavailableResponse({ description: 'Every thread that reads models is busy and too many requests wait; try again after Retry-After' })
  async inspect(@CurrentCaller() caller: Caller, @Body() body: InspectModelDto): Promise<ModelInspectionDto> {
    const inputShapes = body.inputShapes ?? {};
    try {
      checkInputShapes(inputShapes);
    } catch (e) {
      if (e instanceof ModelRefusal) throw new BadRequestException(e.message);
      throw e;
    }
    const upload = await this.uploads.get(caller, body.uploadId);
    if (upload.size > this.config.maxUploadBytes) throw new BadRequestException(`model: the model is ${upload.size} bytes; the limit is ${this.config.maxUploadBytes}`);
    const chunks: Buffer[] = [];
    for await (const c of await this.store.get(upload.storageKey)) chunks.push(c as Buffer);
    // Read on a worker thread, within the model budget: never on this event loop.
    const result = await this.models.inspect(Buffer.concat(chunks), inputShapes);
    return { uploadId: upload.id, filename: upload.filename, size: upload.size, ...result };
  }
}
