import type { PlacedPerson } from '../batches';
import { deliveryWarning, submittedValuesOf, type AcceptedItem, type InvitationStatus, type RejectedItem } from '../core';
import { applyInvitationPolicy, type InvitationPolicy } from './invitationPolicy';
import type { AdmissionCandidate, AdmissionResult } from '../storage';

/**
 * The two steps of admitting a submission that need no storage. Before it: each item is held to
 * the operator's policy (a refusal rejects that item alone), and the same person twice in one
 * submission becomes one candidate, the later items answering as duplicates of the first. After
 * storage answered for each candidate: what the caller is told, and what the batch keeps.
 */

export interface SubmittedItem {
  index: number;
  id: string;
  email: string;
  status: InvitationStatus;
  duplicate: boolean;
  /** What the caller should know, such as a custom message Graph will leave out. */
  warnings?: string[];
  /** A person the app has, whose changed profile will be written onto their guest (no new invitation). */
  profileChanged?: true;
  /** A leaver who came back: what they were again, their guest enabled again if it was disabled (no new invitation). */
  returned?: true;
  /** A new address for a person the app has by this externalId: the same person and guest, redeemed again at the new address. */
  emailChanged?: true;
}

/** An item that passed the policy: which candidate it names, and whether an earlier item already named that person. */
export interface ScreenedItem {
  index: number;
  email: string;
  candidate: number;
  repeat: boolean;
}

export interface ScreenedSubmission {
  /** One per person, in the order of their first item. */
  candidates: AdmissionCandidate[];
  /** Every item the policy let through, in submission order. */
  items: ScreenedItem[];
  /** The submission's own rejections and the policy's, in submission order. */
  rejected: RejectedItem[];
}

export function screenSubmission(
  submission: { accepted: readonly AcceptedItem[]; rejected: readonly RejectedItem[] },
  policy: InvitationPolicy,
  inviteDelivery: 'graph' | 'mail',
): ScreenedSubmission {
  const rejected = [...submission.rejected];
  const candidateByEmail = new Map<string, number>();
  const candidates: AdmissionCandidate[] = [];
  const items: ScreenedItem[] = [];
  for (const item of submission.accepted) {
    const { index, pathPrefix, invitation: submitted } = item;
    const verdict = applyInvitationPolicy(submitted, policy);
    if (verdict.errors) {
      const errors = verdict.errors.map((error) => ({ path: `${pathPrefix}${error.path}`, message: error.message }));
      rejected.push(rejectedAlone(item, errors));
      continue;
    }
    const { invitation } = verdict;
    const email = invitation.invitedUserEmailAddress;
    const earlier = candidateByEmail.get(email);
    if (earlier !== undefined) {
      items.push({ index, email, candidate: earlier, repeat: true });
      continue;
    }
    candidateByEmail.set(email, candidates.length);
    items.push({ index, email, candidate: candidates.length, repeat: false });
    const warning = deliveryWarning(invitation, inviteDelivery);
    candidates.push({ email, invitation, ...(warning ? { warning } : {}) });
  }
  return { candidates, items, rejected: rejected.sort(byIndex) };
}

export interface AdmissionAnswer {
  /** What the caller is told, in submission order (a person storage refused is among `rejected` instead). */
  items: SubmittedItem[];
  /** The rejections, with the people storage refused, in submission order. */
  rejected: RejectedItem[];
  /** The copy the batch keeps of each person, at their place. */
  people: PlacedPerson[];
}

/** `admissions[i]` is storage's answer for `screened.candidates[i]`. */
export function answerAdmissions(
  batchId: string,
  accepted: readonly AcceptedItem[],
  screened: ScreenedSubmission,
  admissions: readonly AdmissionResult[],
): AdmissionAnswer {
  const rejected = [...screened.rejected];
  // A person storage refused is rejected alone, like an invalid item; the others go on.
  for (const { index, candidate } of screened.items) {
    const admission = admissions[candidate]!;
    if (admission.admission !== 'refused') continue;
    const item = accepted.find((candidate) => candidate.index === index)!;
    rejected.push(rejectedAlone(item, [{ path: item.pathPrefix.replace(/\.$/, '') || '(body)', message: admission.reason }]));
  }
  // In submission order: the screened items come in it, and refusals only remove some.
  const items = screened.items.flatMap(({ index, email, candidate, repeat }): SubmittedItem[] => {
    const admission = admissions[candidate]!;
    if (admission.admission === 'refused') return [];
    const { record } = admission;
    const duplicate = repeat || admission.admission === 'duplicate' || admission.admission === 'updated';
    const changed =
      !repeat && admission.admission === 'updated'
        ? admission.returned
          ? { returned: true as const }
          : { profileChanged: true as const }
        : !repeat && admission.admission === 'requeued' && admission.emailChanged
          ? { emailChanged: true as const }
          : {};
    return [
      {
        index,
        id: record.id,
        email,
        status: record.status,
        duplicate,
        ...changed,
        ...(record.warning ? { warnings: [record.warning] } : {}),
      },
    ];
  });
  // A copy for each person at their place: a duplicate of another batch's person at the place
  // reserved for them; a person this batch already had keeps the place they have.
  const people = screened.items.flatMap(({ index, candidate, repeat }): PlacedPerson[] => {
    const admission = admissions[candidate]!;
    if (repeat || admission.admission === 'refused') return [];
    const { record } = admission;
    if (admission.admission === 'duplicate' || admission.admission === 'updated') {
      if (record.batchId === batchId) return [];
      return [{ record, index, position: screened.candidates[candidate]!.batchPosition!, queuedHere: false }];
    }
    return [{ record, index, position: admission.batchPosition!, queuedHere: true, requeued: admission.admission === 'requeued' }];
  });
  return { items, rejected: rejected.sort(byIndex), people };
}

const byIndex = (a: { index: number }, b: { index: number }) => a.index - b.index;

/** A valid item rejected alone (by the policy, or by storage), with what it held. */
function rejectedAlone({ index, line, invitation, raw }: AcceptedItem, errors: RejectedItem['errors']): RejectedItem {
  const submitted = submittedValuesOf(invitation, raw);
  return { index, ...(line ? { line } : {}), errors, ...(submitted ? { submitted } : {}) };
}
