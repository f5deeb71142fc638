import { BadRequestException } from '@nestjs/common';
import type { ValidationError } from 'class-validator';

/** Constraints that say what a field is (present, a string, a list, one of some values): the first thing to fix. */
const FUNDAMENTAL = /^(whitelistValidation|isDefined|is[A-Z])/;

/**
 * One message per field that is wrong: the most basic of its problems (missing, or of the wrong
 * type, before too long or out of range). A missing `targets` says it must be a list, not also
 * that it may hold at most 32. Nested fields are named by their path (source.files.0.path).
 */
export function validationMessages(errors: ValidationError[], parent = ''): string[] {
  const out: string[] = [];
  for (const e of errors) {
    const path = parent ? `${parent}.${e.property}` : e.property;
    const names = Object.keys(e.constraints ?? {});
    if (names.length) {
      const first = names.find((n) => FUNDAMENTAL.test(n)) ?? names[0];
      const message = e.constraints![first];
      out.push(parent && !message.startsWith(`${parent}.`) ? `${parent}.${message}` : message);
    }
    if (e.children?.length) out.push(...validationMessages(e.children, path));
  }
  return out;
}

export function validationException(errors: ValidationError[]): BadRequestException {
  return new BadRequestException(validationMessages(errors));
}
