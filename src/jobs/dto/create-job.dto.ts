import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsDefined,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { ARTIFACT_KINDS } from '../artifact-kinds';
import { MAX_FILES } from '../source-rules';

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

export class SourceDto {
  @ApiProperty({ enum: ['c', 'c++'], example: 'c', description: '"cpp" is accepted for c++' })
  @IsString()
  @IsIn(['c', 'c++', 'cpp', 'cxx'], { message: 'language must be one of: c, c++' })
  language: string;

  @ApiProperty({ type: [SourceFileDto], description: `1 to ${MAX_FILES} files; translation units are compiled, headers are available to #include` })
  @IsArray()
  @ArrayMinSize(1, { message: 'source.files must contain at least one file' })
  @ArrayMaxSize(MAX_FILES)
  @ValidateNested({ each: true })
  @Type(() => SourceFileDto)
  files: SourceFileDto[];

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

export class TargetDescriptorDto {
  @ApiProperty({ example: 'aarch64-unknown-linux-gnu' }) triple: string;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'cortex-a72' }) cpu?: string | null;
  @ApiPropertyOptional({ type: [String], example: ['+neon'] }) features?: string[];
  @ApiPropertyOptional({ nullable: true, type: String }) abi?: string | null;
  @ApiPropertyOptional({ nullable: true, enum: ['hard', 'soft', 'softfp'] }) floatAbi?: 'hard' | 'soft' | 'softfp' | null;
}

@ApiExtraModels(TargetDescriptorDto)
export class CreateJobDto {
  @ApiProperty({ type: SourceDto })
  @IsDefined({ message: 'source is required: { "language": "c", "files": [{ "path": "a.c", "content": "..." }] }' })
  @ValidateNested()
  @Type(() => SourceDto)
  source: SourceDto;

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

  @ApiPropertyOptional({ enum: ARTIFACT_KINDS, isArray: true, example: ['object', 'assembly'], description: 'What to produce; default ["object"]' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(ARTIFACT_KINDS, { each: true, message: `each output must be one of: ${ARTIFACT_KINDS.join(', ')}` })
  outputs?: string[];
}
