import type { InvitationPolicy } from '../../shared/intake/invitationPolicy';

/** The operator's policy with every power off and no domain limited: what a unit test starts from. */
export const OPEN_POLICY: InvitationPolicy = {
  domains: { allowed: [], blocked: [] },
  allowedGroups: [],
  allowMemberType: false,
  allowCc: false,
  allowCustomMessage: false,
  allowedRedirectHosts: [],
  messageTemplates: {},
  callbackAllowedHosts: [],
};
