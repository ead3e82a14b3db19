import { z } from 'zod';
import { emailAddressSchema } from './emailAddress';
import { isWellFormedText, MAX_KEY_CHARACTERS, MAX_PROPERTY_CHARACTERS } from './tableLimits';

/**
 * One invitation as callers submit it: the body of Graph's create invitation (v1.0) plus our own
 * `externalId`, `resend`, `groups`, `profile`, `messageTemplate` and `callbackUrl`. This schema is the single
 * source of truth for what the intake accepts; what a caller may use of it is the operator's to
 * grant (intake/invitationPolicy.ts).
 */

const MAX_DISPLAY_NAME = 256; // Entra's displayName limit
const MAX_URL = 2048;
const MAX_MESSAGE_BODY = 10_000;
const MAX_SPONSORS = 5; // Entra allows at most 5 sponsors per user
const MAX_GROUPS = 20; // as the portal's single invite: at most 20 groups
// The externalId index row's RowKey is `x|<percent-encoded externalId>|<32-character id>`.
const MAX_ENCODED_EXTERNAL_ID = MAX_KEY_CHARACTERS - 'x||'.length - 32;
// Records keep the invitation as JSON in one Table string property; leave room below its limit.
const MAX_STORED_INVITATION_CHARACTERS = MAX_PROPERTY_CHARACTERS - 2_048;

/** Every string we accept: well-formed UTF-16, which storage and Graph can hold. */
const text = () => z.string().refine(isWellFormedText, 'must be well-formed Unicode text (it holds a lone surrogate)');
/** Text shown as one line: no control characters. */
const lineOfText = () => text().refine((value) => !/\p{Cc}/u.test(value), 'must not contain control characters');

/** Graph computes these; a caller that sends them has misunderstood the API. */
export const READ_ONLY_PROPERTIES = ['id', 'status', 'inviteRedeemUrl'] as const;

const refused = (message: string, harmless: unknown = undefined) =>
  z
    .unknown()
    .refine((value) => value === undefined || value === harmless, message)
    .optional();
const readOnly = (name: string) => refused(`is read-only: Graph sets ${name}, remove it from the request`);
/**
 * Resetting a redemption hands an existing user object (its groups, its app access) to whoever
 * redeems at the new address: never a caller's choice, only an operator's, and only for a guest
 * this app created (POST /api/invitations/{id}/reset-redemption).
 */
const OPERATOR_ONLY =
  'is not accepted from callers: an operator resets a redemption of a guest this app invited with POST /api/invitations/{id}/reset-redemption (admin key)';

/** An absolute https URL without credentials (an http page could be swapped on the way); `example` shows one in the message. */
const absoluteHttpsUrl = (example: string) =>
  text()
    .max(MAX_URL)
    .refine((value) => {
      try {
        const url = new URL(value);
        return url.protocol === 'https:' && url.hostname.length > 0 && url.username === '' && url.password === '';
      } catch {
        return false;
      }
    }, `must be an absolute https URL without credentials, such as ${example}`);

/** ISO 639 / BCP 47 tag such as en-US; Intl rejects what is not a well-formed tag. */
const languageTag = text().refine((tag) => {
  if (!/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(tag)) return false;
  try {
    return Intl.getCanonicalLocales(tag).length === 1;
  } catch {
    return false;
  }
}, 'must be a language tag such as en-US or fr');

const directoryObjectId = z.guid('must be a directory object id (GUID)');

/**
 * What HR knows of a person, set on their guest after Graph's 201 (`PATCH /users/{id}`): Graph's
 * POST /invitations leaves the invited user's profile alone. Each field within Entra's own limit
 * for that user property; `usageLocation` is a two-letter country code (ISO 3166-1 alpha-2).
 */
const profileText = (max: number) => lineOfText().trim().min(1).max(max).optional();
export const profileSchema = z
  .strictObject({
    givenName: profileText(64),
    surname: profileText(64),
    companyName: profileText(64),
    department: profileText(64),
    jobTitle: profileText(128),
    employeeId: profileText(16),
    usageLocation: z
      .string()
      .regex(/^[A-Za-z]{2}$/, 'must be a two-letter country code (ISO 3166-1 alpha-2), such as GB')
      .transform((code) => code.toUpperCase())
      .optional(),
  })
  .refine((profile) => Object.values(profile).some((value) => value !== undefined), 'must name at least one field');
export type Profile = z.output<typeof profileSchema>;

const caseInsensitiveEnum = <T extends string>(values: readonly [T, ...T[]]) =>
  z.preprocess(
    (value) => (typeof value === 'string' ? (values.find((v) => v.toLowerCase() === value.toLowerCase()) ?? value) : value),
    z.enum(values),
  );

const recipientSchema = z.strictObject({
  emailAddress: z.strictObject({
    address: emailAddressSchema,
    name: lineOfText().max(MAX_DISPLAY_NAME).optional(),
  }),
});

const messageInfoSchema = z.strictObject({
  ccRecipients: z
    .array(recipientSchema)
    .max(1, 'allows at most 1 recipient: Graph says "Currently only 1 additional recipient is supported"')
    .optional(),
  // Line breaks and tabs belong in a message; other control characters do not (and each is six characters once stored as JSON).
  customizedMessageBody: text()
    .max(MAX_MESSAGE_BODY)
    .refine(
      // eslint-disable-next-line no-control-regex -- matching control characters is the point
      (value) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/.test(value),
      'must not contain control characters other than line breaks and tabs',
    )
    .optional(),
  messageLanguage: languageTag.optional(),
});

export const invitationSchema = z
  .strictObject({
    invitedUserEmailAddress: emailAddressSchema,
    // Where the guest lands after redeeming.
    inviteRedirectUrl: absoluteHttpsUrl('https://myapps.microsoft.com'),
    invitedUserDisplayName: lineOfText().trim().min(1).max(MAX_DISPLAY_NAME).optional(),
    invitedUserType: caseInsensitiveEnum(['Guest', 'Member']).default('Guest'),
    sendInvitationMessage: z.boolean().default(false),
    invitedUserMessageInfo: messageInfoSchema.optional(),
    // `false` is Graph's default, and asks for nothing: a body copied from Graph's reference may carry it.
    resetRedemption: refused(OPERATOR_ONLY, false),
    invitedUser: refused(OPERATOR_ONLY),
    invitedUserSponsors: z
      .array(z.strictObject({ id: directoryObjectId }))
      .min(1)
      .max(MAX_SPONSORS, `allows at most ${MAX_SPONSORS} sponsors: Entra's limit per user`)
      .optional(),
    /** Set on the guest once invited (worker/invitationFollowUp.ts); needs INVITE_ALLOW_PROFILE and User.ReadWrite.All. */
    profile: profileSchema.optional(),
    /** Groups the guest joins once invited (worker/invitationFollowUp.ts); needs GroupMember.ReadWrite.All. */
    groups: z
      .array(directoryObjectId)
      .min(1)
      .max(MAX_GROUPS, `allows at most ${MAX_GROUPS} groups`)
      .refine((ids) => new Set(ids.map((id) => id.toLowerCase())).size === ids.length, 'must not name a group twice')
      .optional(),
    externalId: lineOfText()
      .trim()
      .min(1)
      .max(256)
      .refine(
        (value) => !isWellFormedText(value) || encodeURIComponent(value).length <= MAX_ENCODED_EXTERNAL_ID,
        `is too long once encoded for storage: at most ${MAX_ENCODED_EXTERNAL_ID} characters after percent-encoding (about ${Math.floor(MAX_ENCODED_EXTERNAL_ID / 9)} non-Latin characters)`,
      )
      .optional(),
    resend: z.boolean().default(false),
    /** The name of an operator-written message (INVITE_MESSAGE_TEMPLATES), resolved by the intake into the message body. */
    messageTemplate: text()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be the name of a message template (INVITE_MESSAGE_TEMPLATES)')
      .optional(),
    /**
     * Where this person's status changes are POSTed (lifecycle/invitationEvents.ts): https only,
     * and only to a host in CALLBACK_ALLOWED_HOSTS (checked by the intake, which knows the setting).
     */
    callbackUrl: absoluteHttpsUrl('https://hr.contoso.com/hooks/invitations').optional(),
    id: readOnly('id'),
    status: readOnly('status'),
    inviteRedeemUrl: readOnly('inviteRedeemUrl'),
  })
  .superRefine((invitation, context) => {
    const stored = JSON.stringify(invitation).length;
    if (stored > MAX_STORED_INVITATION_CHARACTERS) {
      context.addIssue({
        code: 'custom',
        path: [],
        message: `is too large to store: ${stored} characters as JSON, at most ${MAX_STORED_INVITATION_CHARACTERS} (shorten customizedMessageBody)`,
      });
    }
  })
  .transform(
    ({ id: _id, status: _status, inviteRedeemUrl: _redeem, resetRedemption: _reset, invitedUser: _user, ...invitation }) => invitation,
  );

export type Invitation = z.output<typeof invitationSchema>;

/**
 * What Graph's POST /invitations receives: the invitation without our own fields. Only the app
 * itself sets `resetRedemption` (an operator's reset of the guest it created: lifecycle/redemptionReset.ts).
 */
export type GraphInvitationRequest = Omit<
  Invitation,
  'externalId' | 'resend' | 'callbackUrl' | 'groups' | 'messageTemplate' | 'profile'
> & {
  resetRedemption?: boolean;
  invitedUser?: { id: string };
};

export function toGraphInvitationRequest(stored: Invitation): GraphInvitationRequest {
  // Records written before callers lost resetRedemption may still hold it: it is never passed on from a request.
  const {
    externalId: _e,
    resend: _r,
    callbackUrl: _c,
    groups: _g,
    messageTemplate: _t,
    profile: _p,
    resetRedemption: _reset,
    invitedUser: _user,
    ...request
  } = stored as Invitation & { resetRedemption?: unknown; invitedUser?: unknown };
  return request;
}

/**
 * What the caller should know of how the invitation will be delivered, or undefined:
 * - with Graph's email, a custom message is not in it: Graph leaves a custom message out of the
 *   email when an app sends the invitation (Entra's B2B troubleshooting), which is always here;
 * - with our own email (INVITE_DELIVERY=mail), the email holds the redemption link and goes to the
 *   invitee alone: a cc recipient is not sent it.
 */
export function deliveryWarning(invitation: Invitation, delivery: 'graph' | 'mail'): string | undefined {
  const info = invitation.invitedUserMessageInfo;
  if (delivery === 'mail')
    return info?.ccRecipients?.length
      ? 'invitedUserMessageInfo.ccRecipients will not be sent the email: with INVITE_DELIVERY=mail the email carries the redemption link, which goes to the invitee alone.'
      : undefined;
  if (!invitation.sendInvitationMessage || !info?.customizedMessageBody) return undefined;
  return 'invitedUserMessageInfo.customizedMessageBody will not be in the email: Graph leaves a custom message out of invitations an app sends. Set INVITE_DELIVERY=mail to send your own email with it.';
}
