import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ArrayMaxSize, IsArray, IsString, MaxLength, validateSync, ValidateNested } from 'class-validator';
import { plainToInstance, Type } from 'class-transformer';
import { validationMessages } from './validation';

class File {
  @IsString()
  @MaxLength(4)
  path: string;
}

class Body {
  @IsArray()
  @ArrayMaxSize(32)
  targets: string[];

  @IsString()
  @MaxLength(2048)
  callbackUrl: string;

  @ValidateNested({ each: true })
  @Type(() => File)
  files: File[];
}

describe('validation messages', () => {
  it('say the most basic problem of each field once, nested fields by their path', () => {
    const body = plainToInstance(Body, { callbackUrl: 42, files: [{ path: 'toolong' }, { path: 7 }] });
    assert.deepEqual(validationMessages(validateSync(body)), [
      'targets must be an array',
      'callbackUrl must be a string',
      'files.0.path must be shorter than or equal to 4 characters',
      'files.1.path must be a string',
    ]);
  });
});
