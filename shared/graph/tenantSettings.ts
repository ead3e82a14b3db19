import { z } from 'zod';
import { GraphCallError } from './graphCallError';
import type { GraphDirectoryClient } from './graphDirectoryClient';

/**
 * The tenant's own settings that decide whether a roster can be invited at all, read where the app
 * may read them (each needs a read permission of its own, granted on purpose: docs/deploy.md):
 * - who may invite guests (`GET /policies/authorizationPolicy` → `allowInvitesFrom`, Policy.Read.All):
 *   app-only invitations fail when the tenant lets only some users, or nobody, invite;
 * - the directory's object quota (`GET /organization` → `directorySizeQuota`, Organization.Read.All):
 *   50,000 objects without a verified domain, 300,000 with one; each new guest is one more.
 * A setting the app may not read is "not checked", with the permission that would check it.
 */

export type TenantCheck<Verdict extends string, Facts> =
  ({ status: Verdict; detail: string } & Facts) | { status: 'notChecked'; detail: string; permission: string };

export type GuestInviteCheck = TenantCheck<'allowed' | 'restricted' | 'blocked', { allowInvitesFrom: string }>;
export type DirectoryQuotaCheck = TenantCheck<'fits' | 'exceeds', { used: number; total: number; toAdd: number }>;

const POLICY_PERMISSION = 'Policy.Read.All';
const QUOTA_PERMISSION = 'Organization.Read.All';

const policySchema = z.object({ allowInvitesFrom: z.string() });
// v1.0 answers the policy itself; some versions wrap it in a collection.
const policyAnswerSchema = z.union([policySchema, z.object({ value: z.array(policySchema).min(1) }).transform((list) => list.value[0]!)]);
const organizationSchema = z.object({
  value: z.array(z.object({ directorySizeQuota: z.object({ used: z.number(), total: z.number() }) })).min(1),
});

/** Whether `toAdd` new guests fit in a directory holding `used` of its `total` objects. */
export function quotaCheck(used: number, total: number, toAdd: number): DirectoryQuotaCheck {
  const left = Math.max(0, total - used);
  const facts = { used, total, toAdd };
  if (toAdd <= left)
    return { status: 'fits', ...facts, detail: `${toAdd} new guest(s) fit: the directory holds ${used} of ${total} objects.` };
  return {
    status: 'exceeds',
    ...facts,
    detail: `${toAdd} new guest(s), but the directory has room for ${left} more (${used} of ${total} objects): the rest would fail until the quota is raised.`,
  };
}

export class TenantSettings {
  constructor(private readonly directory: Pick<GraphDirectoryClient, 'readTenant'>) {}

  async guestInvites(): Promise<GuestInviteCheck> {
    const read = await this.read('/policies/authorizationPolicy?$select=allowInvitesFrom', policyAnswerSchema, POLICY_PERMISSION);
    if ('notChecked' in read) return read.notChecked;
    const { allowInvitesFrom } = read.value;
    const setting = `allowInvitesFrom: ${allowInvitesFrom}`;
    if (allowInvitesFrom === 'none')
      return {
        status: 'blocked',
        allowInvitesFrom,
        detail: `Nobody may invite guests to this tenant (${setting}): every invitation will fail.`,
      };
    if (allowInvitesFrom === 'adminsAndGuestInviters')
      return {
        status: 'restricted',
        allowInvitesFrom,
        detail: `Only admins and Guest Inviters may invite guests (${setting}): the app's invitations fail unless its service principal holds the Guest Inviter role.`,
      };
    return {
      status: 'allowed',
      allowInvitesFrom,
      detail: `The tenant lets members invite guests (${setting}): the app's invitations are allowed.`,
    };
  }

  /** Whether `toAdd` new guests fit in what is left of the directory's quota. */
  async directoryQuota(toAdd: number): Promise<DirectoryQuotaCheck> {
    const read = await this.read('/organization?$select=directorySizeQuota', organizationSchema, QUOTA_PERMISSION);
    if ('notChecked' in read) return read.notChecked;
    const { used, total } = read.value.value[0]!.directorySizeQuota;
    return quotaCheck(used, total, toAdd);
  }

  private async read<T extends z.ZodType>(
    path: string,
    schema: T,
    permission: string,
  ): Promise<{ value: z.output<T> } | { notChecked: { status: 'notChecked'; detail: string; permission: string } }> {
    const notChecked = (detail: string) => ({ notChecked: { status: 'notChecked' as const, detail, permission } });
    try {
      const answer = schema.safeParse(await this.directory.readTenant(path));
      if (!answer.success) return notChecked(`Not checked: Graph answered ${path.split('?')[0]} with a body the app does not know.`);
      return { value: answer.data };
    } catch (error) {
      if (!(error instanceof GraphCallError)) throw error;
      if (error.httpStatus === 403 || error.kind === 'credential')
        return notChecked(`Not checked: the app may not read it (grant ${permission}, Application, to check it).`);
      return notChecked(`Not checked: Graph answered ${error.httpStatus ?? ''} ${error.code}.`.replace(/\s+/g, ' '));
    }
  }
}
