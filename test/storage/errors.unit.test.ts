import { RestError } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { isConflict, isLostRace, isNotFound, isOutage, isPreconditionFailed, isRefusal } from '../../shared/storage';

/** What a storage answer means (shared/storage/errors.ts), decided in one place for every caller. */
describe('storage errors by meaning', () => {
  const answer = (statusCode?: number) => new RestError('storage said so', statusCode === undefined ? {} : { statusCode });
  const predicates = { isNotFound, isConflict, isPreconditionFailed, isLostRace, isRefusal, isOutage };

  it.each([
    [404, ['isNotFound', 'isRefusal']],
    [409, ['isConflict', 'isLostRace', 'isRefusal']],
    [412, ['isPreconditionFailed', 'isLostRace', 'isRefusal']],
    [400, ['isRefusal']],
    [500, ['isOutage']],
    [503, ['isOutage']],
    [undefined, ['isOutage']], // no answer at all: a connection refused or reset
  ])('a RestError with status %s is %j', (status, meanings) => {
    const error = answer(status);
    const held = Object.entries(predicates)
      .filter(([, holds]) => holds(error))
      .map(([name]) => name);
    expect(held.sort()).toEqual([...meanings].sort());
  });

  it('says nothing of errors that are not storage’s', () => {
    for (const error of [new Error('404'), Object.assign(new Error('x'), { statusCode: 409 }), undefined, 'text'])
      for (const holds of Object.values(predicates)) expect(holds(error)).toBe(false);
  });
});
