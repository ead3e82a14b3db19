import { describe, expect, it } from 'vitest';
import { validateItems } from '../../shared/intake';
import { OPEN_POLICY } from '../support/invitationPolicies';
import { answerAdmissions, screenSubmission } from '../../shared/intake/submissionScreening';
import type { AdmissionResult } from '../../shared/storage';
import type { InvitationRecord } from '../../shared/core';

/** The intake's steps that need no storage: the policy, duplicates within a submission, and the answer. */
const policy = { ...OPEN_POLICY, domains: { allowed: [], blocked: ['blocked.example'] } };
const item = (email: string) => ({ invitedUserEmailAddress: email, inviteRedirectUrl: 'https://myapps.microsoft.com' });
const submissionOf = (...values: unknown[]) =>
  validateItems(values.map((value, index) => ({ index, pathPrefix: `invitations[${index}].`, value })));

describe('screening a submission', () => {
  it('makes one candidate per person; later items naming them are repeats of the first', () => {
    const screened = screenSubmission(
      submissionOf(item('Ann@Contoso.com'), item('bob@contoso.com'), item('ann@contoso.com')),
      policy,
      'graph',
    );
    expect(screened.candidates.map((candidate) => candidate.email)).toEqual(['ann@contoso.com', 'bob@contoso.com']);
    expect(screened.items).toEqual([
      { index: 0, email: 'ann@contoso.com', candidate: 0, repeat: false },
      { index: 1, email: 'bob@contoso.com', candidate: 1, repeat: false },
      { index: 2, email: 'ann@contoso.com', candidate: 0, repeat: true },
    ]);
  });

  it('rejects what the policy refuses, alone and in submission order with the invalid items', () => {
    const screened = screenSubmission(submissionOf(item('x@blocked.example'), 'not an object', item('ann@contoso.com')), policy, 'graph');
    expect(screened.rejected.map((rejected) => rejected.index)).toEqual([0, 1]);
    expect(screened.rejected[0]!.errors[0]).toMatchObject({ path: 'invitations[0].invitedUserEmailAddress' });
    expect(screened.candidates).toHaveLength(1);
  });

  it('warns of a custom message Graph would leave out, once per person', () => {
    const withMessage = {
      ...item('ann@contoso.com'),
      sendInvitationMessage: true,
      invitedUserMessageInfo: { customizedMessageBody: 'Welcome' },
    };
    const screened = screenSubmission(submissionOf(withMessage), { ...policy, allowCustomMessage: true }, 'graph');
    expect(screened.candidates[0]!.warning).toEqual(expect.any(String));
    expect(
      screenSubmission(submissionOf(withMessage), { ...policy, allowCustomMessage: true }, 'mail').candidates[0]!.warning,
    ).toBeUndefined();
  });
});

describe('answering once storage has answered', () => {
  const record = (id: string, email: string, batchId = 'b1') =>
    ({ id, batchId, email, status: 'Queued', attempts: 0, createdAt: '', updatedAt: '', queuedAt: '' }) as InvitationRecord;
  const submission = submissionOf(
    item('ann@contoso.com'),
    item('bob@contoso.com'),
    item('cy@contoso.com'),
    item('ann@contoso.com'),
    item('dee@contoso.com'),
  );

  it('tells each item its person, rejects whom storage refused, and places each person once', () => {
    const screened = screenSubmission(submission, policy, 'graph');
    screened.candidates.forEach((candidate, position) => (candidate.batchPosition = 10 + position));
    const admissions: AdmissionResult[] = [
      { admission: 'created', record: record('a', 'ann@contoso.com'), batchPosition: 10 },
      { admission: 'refused', reason: 'too long for a table' },
      { admission: 'duplicate', record: record('c', 'cy@contoso.com', 'other-batch') },
      { admission: 'duplicate', record: record('d', 'dee@contoso.com') }, // already this batch's
    ];
    const answer = answerAdmissions('b1', submission.accepted, screened, admissions);
    expect(answer.items.map(({ index, id, duplicate }) => [index, id, duplicate])).toEqual([
      [0, 'a', false],
      [2, 'c', true],
      [3, 'a', true],
      [4, 'd', true],
    ]);
    expect(answer.rejected).toEqual([
      {
        index: 1,
        errors: [{ path: 'invitations[1]', message: 'too long for a table' }],
        submitted: { email: 'bob@contoso.com' }, // what the row held, for the results files
      },
    ]);
    expect(answer.people.map(({ record: { id }, index, position, queuedHere }) => [id, index, position, queuedHere])).toEqual([
      ['a', 0, 10, true],
      ['c', 2, 12, false], // another batch's person, copied at the place reserved here
    ]);
  });

  it('answers a mover (a changed profile) as the known person it is, marked, placed where they already are', () => {
    const screened = screenSubmission(submissionOf(item('mo@contoso.com')), { ...policy, allowProfile: true }, 'graph');
    const answer = answerAdmissions('b1', submissionOf(item('mo@contoso.com')).accepted, screened, [
      { admission: 'updated', record: record('m', 'mo@contoso.com') },
    ]);
    expect(answer.items).toEqual([{ index: 0, id: 'm', email: 'mo@contoso.com', status: 'Queued', duplicate: true, profileChanged: true }]);
    expect(answer.people).toEqual([]); // already this batch's: no second place
  });
});
