import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ERROR_CODES } from './exception.filter';

/** The body of every 4xx and 5xx answer (see exception.filter.ts). */
export class ErrorDto {
  @ApiProperty({ example: 400 }) statusCode: number;
  @ApiProperty({
    example: 'invalid_request',
    description: `Stable and machine-readable: branch on this, not on the message. By status: ${Object.entries(ERROR_CODES).map(([s, c]) => `${s} ${c}`).join(', ')}; and idempotency_key_reused (422), an Idempotency-Key sent before with another request`,
  })
  code: string;
  @ApiProperty({ example: 'Bad Request', description: 'The status\'s reason phrase' }) error: string;
  @ApiProperty({ example: 'targets must be an array', description: 'What went wrong and what to do, in one line' }) message: string;
  @ApiPropertyOptional({ type: [String], description: 'When several things are wrong (a request that fails validation in several fields): each one; message joins them' }) details?: string[];
  @ApiProperty({ example: '5f0c2a9e-…', description: 'The X-Request-Id of the request, to quote to an operator' }) requestId: string;
}
