import { z } from 'zod';
import { emailAddressSchema } from './emailAddress';

/**
 * One invitation as callers submit it: the body of Graph's create invitation (v1.0) plus our own
 * `externalId` and `resend`. This schema is the single source of truth for what the intake accepts.
 */

const MAX_DISPLAY_NAME = 256; // Entra's displayName limit
const MAX_URL = 2048;
// Records keep the invitation in one Table string property (at most 32K UTF-16 characters).
const MAX_MESSAGE_BODY = 10_000;

/** Graph computes these; a caller that sends them has misunderstood the API. */
export const READ_ONLY_PROPERTIES = ['id', 'status', 'inviteRedeemUrl'] as const;

const readOnly = (name: string) =>
  z
    .unknown()
    .refine((value) => value === undefined, `is read-only: Graph sets ${name}, remove it from the request`)
    .optional();

const absoluteHttpUrl = z
  .string()
  .max(MAX_URL)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname.length > 0;
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL such as https://myapps.microsoft.com');

/** ISO 639 / BCP 47 tag such as en-US; Intl rejects what is not a well-formed tag. */
const languageTag = z.string().refine((tag) => {
  if (!/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(tag)) return false;
  try {
    return Intl.getCanonicalLocales(tag).length === 1;
  } catch {
    return false;
  }
}, 'must be a language tag such as en-US or fr');

const directoryObjectId = z.guid('must be a directory object id (GUID)');

const caseInsensitiveEnum = <T extends string>(values: readonly [T, ...T[]]) =>
  z.preprocess(
    (value) => (typeof value === 'string' ? (values.find((v) => v.toLowerCase() === value.toLowerCase()) ?? value) : value),
    z.enum(values),
  );

const recipientSchema = z.strictObject({
  emailAddress: z.strictObject({
    address: emailAddressSchema,
    name: z.string().max(MAX_DISPLAY_NAME).optional(),
  }),
});

const messageInfoSchema = z.strictObject({
  ccRecipients: z
    .array(recipientSchema)
    .max(1, 'allows at most 1 recipient: Graph says "Currently only 1 additional recipient is supported"')
    .optional(),
  customizedMessageBody: z.string().max(MAX_MESSAGE_BODY).optional(),
  messageLanguage: languageTag.optional(),
});

export const invitationSchema = z
  .strictObject({
    invitedUserEmailAddress: emailAddressSchema,
    inviteRedirectUrl: absoluteHttpUrl,
    invitedUserDisplayName: z.string().trim().min(1).max(MAX_DISPLAY_NAME).optional(),
    invitedUserType: caseInsensitiveEnum(['Guest', 'Member']).default('Guest'),
    sendInvitationMessage: z.boolean().default(false),
    invitedUserMessageInfo: messageInfoSchema.optional(),
    resetRedemption: z.boolean().default(false),
    invitedUser: z.strictObject({ id: directoryObjectId }).optional(),
    invitedUserSponsors: z.array(z.strictObject({ id: directoryObjectId })).min(1).max(50).optional(),
    externalId: z
      .string()
      .trim()
      .min(1)
      .max(256)
      .refine((value) => !/\p{Cc}/u.test(value), 'must not contain control characters')
      .optional(),
    resend: z.boolean().default(false),
    id: readOnly('id'),
    status: readOnly('status'),
    inviteRedeemUrl: readOnly('inviteRedeemUrl'),
  })
  .superRefine((invitation, context) => {
    if (invitation.resetRedemption && !invitation.invitedUser?.id) {
      context.addIssue({
        code: 'custom',
        path: ['invitedUser', 'id'],
        message: 'is required when resetRedemption is true (the id of the guest whose redemption is reset)',
      });
    }
  })
  .transform(({ id: _id, status: _status, inviteRedeemUrl: _redeem, ...invitation }) => invitation);

export type Invitation = z.output<typeof invitationSchema>;

/** What Graph's POST /invitations receives: the invitation without our own fields. */
export type GraphInvitationRequest = Omit<Invitation, 'externalId' | 'resend'>;

export function toGraphInvitationRequest({ externalId: _e, resend: _r, ...request }: Invitation): GraphInvitationRequest {
  return request;
}
