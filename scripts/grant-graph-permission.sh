#!/usr/bin/env bash
# Grants the Microsoft Graph application permission User.Invite.All (with admin consent: an app
# role assignment) to the identity that calls Graph: the app's managed identity by default, or an
# app registration. Idempotent: an existing assignment (on any page of the identity's assignments,
# or one Graph reports as already there) is left as it is. Needs the Azure CLI, signed in as someone
# who may grant app roles (Privileged Role Administrator or Global Administrator).
#
#   scripts/grant-graph-permission.sh --resource-group rg-invites --identity-name id-invite-abc   # a managed identity
#   scripts/grant-graph-permission.sh --app-id 11111111-2222-3333-4444-555555555555               # an app registration
#   scripts/grant-graph-permission.sh --principal-id <service principal object id>               # either, by object id
#
# Options:
# Each flag grants what one feature needs, and nothing is granted for a feature left off:
#   --with-lifecycle         also grant User.Read.All: trackRedemptions reads who accepted, a worker that
#                            takes over a crashed claim looks the person up instead of inviting twice,
#                            sponsors are checked to be members, and a reset reads whose guest it is
#   --expired-action ACTION  what EXPIRED_ACTION needs besides: disable → User.EnableDisableAccount.All
#                            (with User.Read.All); delete → User.DeleteRestore.All (with User.Read.All;
#                            least privilege for deleting users since December 2024); report → nothing more
#   --leaver-action ACTION   the same for LEAVER_ACTION (INVITE_ALLOW_LEAVERS=true): disable → User.EnableDisableAccount.All
#                            (which also enables a returning leaver's guest again), delete → User.DeleteRestore.All,
#                            each with User.Read.All (whose guest it is is read first); report → User.Read.All
#   --with-groups            also grant GroupMember.ReadWrite.All: items that name groups (INVITE_ALLOWED_GROUPS)
#                            join them once invited; a role-assignable group also needs RoleManagement.ReadWrite.Directory,
#                            which this script never grants
#   --with-mail              also grant Mail.Send, which INVITE_DELIVERY=mail needs; restrict it to the
#                            sending mailbox with Exchange Online (docs/deploy.md), or it reaches every mailbox
#   --with-mail-check        also grant Mail.ReadBasic.All: a send whose answer was lost is looked for in the
#                            sender's Sent Items before it is sent again (restrict it to that mailbox too)
#   --with-reset-redemption  also grant User.ReadWrite.All (with User.Read.All), which an operator's
#                            POST /api/invitations/{id}/reset-redemption and a mover's changed email (the same
#                            guest redeemed at the new address) need (only then: it can change any user)
#   --with-profile           also grant User.ReadWrite.All, which INVITE_ALLOW_PROFILE needs to write a joiner's
#                            profile (givenName, department…) onto the guest; it can change any user: grant it
#                            only if callers send profiles
#   --with-plan-checks       also grant User.Read.All, Policy.Read.All and Organization.Read.All: a plan
#                            (?dryRun=true) then says who is already a guest or a member, whether the
#                            tenant lets the app invite, and whether the directory has room (read only)
#   --graph-endpoint URL     Graph of a national cloud (https://graph.microsoft.us, https://microsoftgraph.chinacloudapi.cn)
#   --dry-run                print what would be done; call nothing
set -euo pipefail

GRAPH_APP_ID=00000003-0000-0000-c000-000000000000          # Microsoft Graph, the same in every tenant
USER_INVITE_ALL=09850681-111b-4a89-9bed-3f2cae46d706        # User.Invite.All (Application)
USER_READWRITE_ALL=741f803b-c850-494e-b5df-cde7c675a1ca     # User.ReadWrite.All (Application)
USER_READ_ALL=df021288-bdef-4463-88db-98f22de89214          # User.Read.All (Application)
USER_ENABLE_DISABLE_ACCOUNT_ALL=3011c876-62b7-4ada-afa2-506cbbecc68c  # User.EnableDisableAccount.All (Application)
USER_DELETE_RESTORE_ALL=eccc023d-eccf-4e7b-9683-8813ab36cecc  # User.DeleteRestore.All (Application)
GROUP_MEMBER_READWRITE_ALL=dbaae8cf-10b5-4b86-a4a1-f871c94c6695  # GroupMember.ReadWrite.All (Application)
MAIL_SEND=b633e1c5-b582-4048-a93e-9f11b44c7e96              # Mail.Send (Application)
MAIL_READ_BASIC_ALL=693c5e45-0940-467d-9b8a-1022fb9d42ef    # Mail.ReadBasic.All (Application)
POLICY_READ_ALL=246dd0d5-5bd0-4def-940b-0421030a5b68        # Policy.Read.All (Application)
ORGANIZATION_READ_ALL=498476ce-e0fe-48b0-b801-37ba7e2685c6  # Organization.Read.All (Application)

graph_endpoint=https://graph.microsoft.com
resource_group="" identity_name="" app_id="" principal_id="" dry_run=false with_reset=false with_lifecycle=false expired_action=report with_groups=false with_mail=false with_plan_checks=false with_profile=false leaver_action=none with_mail_check=false

# The help is the comment block at the top of this file, and nothing after it.
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --resource-group) resource_group=$2; shift 2 ;;
    --identity-name) identity_name=$2; shift 2 ;;
    --app-id) app_id=$2; shift 2 ;;
    --principal-id) principal_id=$2; shift 2 ;;
    --graph-endpoint) graph_endpoint=${2%/}; shift 2 ;;
    --with-reset-redemption) with_reset=true; shift ;;
    --with-lifecycle) with_lifecycle=true; shift ;;
    --with-groups) with_groups=true; shift ;;
    --with-mail) with_mail=true; shift ;;
    --with-mail-check) with_mail_check=true; shift ;;
    --with-plan-checks) with_plan_checks=true; shift ;;
    --with-profile) with_profile=true; shift ;;
    --expired-action) expired_action=$2; shift 2 ;;
    --leaver-action) leaver_action=$2; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) usage 0 ;;
    *) echo "Unknown option: $1" >&2; usage 2 ;;
  esac
done
case "$expired_action" in
  report|disable|delete) ;;
  *) echo "--expired-action takes report, disable or delete (as EXPIRED_ACTION), not '$expired_action'." >&2; exit 2 ;;
esac
case "$leaver_action" in
  none|report|disable|delete) ;;
  *) echo "--leaver-action takes report, disable or delete (as LEAVER_ACTION), not '$leaver_action'." >&2; exit 2 ;;
esac

given=0
[ -n "$principal_id" ] && given=$((given + 1))
[ -n "$app_id" ] && given=$((given + 1))
[ -n "$identity_name" ] && given=$((given + 1))
if [ "$given" -ne 1 ]; then
  echo "Name exactly one caller: --identity-name (with --resource-group), --app-id or --principal-id." >&2
  exit 2
fi
if [ -n "$identity_name" ] && [ -z "$resource_group" ]; then
  echo "--identity-name needs --resource-group." >&2
  exit 2
fi

# In a dry run every Azure CLI call is printed, not made.
az_call() {
  if [ "$dry_run" = true ]; then
    printf 'would run: az' >&2
    printf ' %q' "$@" >&2
    printf '\n' >&2
    return 0
  fi
  az "$@"
}
lookup() { # a read whose answer a dry run stands in for with a placeholder
  local placeholder=$1; shift
  if [ "$dry_run" = true ]; then az_call "$@"; echo "$placeholder"; else az "$@"; fi
}

if [ -z "$principal_id" ]; then
  if [ -n "$identity_name" ]; then
    principal_id=$(lookup "<principal id of $identity_name>" identity show --resource-group "$resource_group" --name "$identity_name" --query principalId --output tsv)
  else
    principal_id=$(lookup "<service principal of $app_id>" ad sp show --id "$app_id" --query id --output tsv)
  fi
fi
graph_sp=$(lookup "<service principal of Microsoft Graph>" ad sp show --id "$GRAPH_APP_ID" --query id --output tsv)

roles=("$USER_INVITE_ALL")
[ "$with_lifecycle" = true ] && roles+=("$USER_READ_ALL")
case "$expired_action" in
  disable) roles+=("$USER_READ_ALL" "$USER_ENABLE_DISABLE_ACCOUNT_ALL") ;;
  delete) roles+=("$USER_READ_ALL" "$USER_DELETE_RESTORE_ALL") ;;
esac
case "$leaver_action" in
  report) roles+=("$USER_READ_ALL") ;;
  disable) roles+=("$USER_READ_ALL" "$USER_ENABLE_DISABLE_ACCOUNT_ALL") ;;
  delete) roles+=("$USER_READ_ALL" "$USER_DELETE_RESTORE_ALL") ;;
esac
[ "$with_groups" = true ] && roles+=("$GROUP_MEMBER_READWRITE_ALL")
[ "$with_mail" = true ] && roles+=("$MAIL_SEND")
[ "$with_mail_check" = true ] && roles+=("$MAIL_READ_BASIC_ALL")
[ "$with_profile" = true ] && roles+=("$USER_READWRITE_ALL")
[ "$with_plan_checks" = true ] && roles+=("$USER_READ_ALL" "$POLICY_READ_ALL" "$ORGANIZATION_READ_ALL")
[ "$with_reset" = true ] && roles+=("$USER_READ_ALL" "$USER_READWRITE_ALL")
# Each role once, in the order asked for.
mapfile -t roles < <(printf '%s\n' "${roles[@]}" | awk '!seen[$0]++')
assignments_url="$graph_endpoint/v1.0/servicePrincipals/$principal_id/appRoleAssignments"

# az rest knows the resource of the clouds `az cloud` lists; --resource makes every Graph endpoint
# work (DoD's dod-graph.microsoft.us among them).
graph_rest() { az_call rest --resource "$graph_endpoint" "$@"; }

# The assignment of `role` on Graph, looked for on every page of the principal's assignments.
existing_assignment() {
  local role=$1 url=$assignments_url found next
  while [ -n "$url" ]; do
    found=$(graph_rest --method GET --url "$url" --query "value[?appRoleId=='$role' && resourceId=='$graph_sp'].id | [0]" --output tsv)
    [ -n "$found" ] && { echo "$found"; return 0; }
    [ "$dry_run" = true ] && return 0
    next=$(graph_rest --method GET --url "$url" --query '"@odata.nextLink"' --output tsv)
    url=$next
  done
}

for role in "${roles[@]}"; do
  existing=$(existing_assignment "$role")
  if [ -n "$existing" ]; then
    echo "Already granted: app role $role on Microsoft Graph to $principal_id (assignment $existing)."
    continue
  fi
  body="{\"principalId\":\"$principal_id\",\"resourceId\":\"$graph_sp\",\"appRoleId\":\"$role\"}"
  if ! answer=$(graph_rest --method POST --url "$assignments_url" --headers Content-Type=application/json --body "$body" --output none 2>&1); then
    # Granted meanwhile (or by someone else): Graph answers 400 "Permission being assigned already exists".
    if grep -qi 'already exists' <<<"$answer"; then
      echo "Already granted: app role $role on Microsoft Graph to $principal_id."
      continue
    fi
    echo "$answer" >&2
    exit 1
  fi
  [ -n "$answer" ] && echo "$answer" >&2
  if [ "$dry_run" = true ]; then
    echo "Would grant: app role $role on Microsoft Graph to $principal_id."
  else
    echo "Granted: app role $role on Microsoft Graph to $principal_id."
  fi
done
