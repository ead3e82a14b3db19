// `azd up`: everything entra-invite-pipeline needs in one resource group.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; it names the resource group and seeds resource names.')
param environmentName string

@minLength(1)
@description('Region of every resource: one that offers the Flex Consumption plan (the list of Microsoft\'s Flex Consumption quickstart).')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'eastus2euap'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of whoever runs azd (AZURE_PRINCIPAL_ID): may set Key Vault secrets.')
param principalId string = ''

@description('What runs azd (AZURE_PRINCIPAL_TYPE): a person (User), or a service principal in CI (ServicePrincipal).')
@allowed(['User', 'ServicePrincipal'])
param principalType string = 'User'

@description('Who calls Microsoft Graph: the managed identity (no secret), or an app registration whose secret or certificate is kept in Key Vault.')
@allowed(['managedIdentity', 'appRegistrationSecret', 'appRegistrationCertificate'])
param graphCaller string = 'managedIdentity'

@description('Tenant of the app registration (only with an app registration as the caller); empty: this deployment\'s tenant.')
param graphTenantId string = ''

@description('Client id of the app registration (only with an app registration as the caller).')
param graphClientId string = ''

@description('Microsoft Graph of the cloud: https://graph.microsoft.us (GCC High), https://microsoftgraph.chinacloudapi.cn (21Vianet).')
param graphEndpoint string = 'https://graph.microsoft.com'

@description('Entra authority of the cloud: https://login.microsoftonline.us, https://login.chinacloudapi.cn.')
param graphAuthorityHost string = 'https://login.microsoftonline.com'

@description('Graph writes per second for the whole app (Graph documents 3,000 per 150 s per app and tenant: 20/s). The instances split it among themselves; no per-instance arithmetic is needed.')
param graphMaxWritesPerSecond int = 20

@description('\'true\': submissions must be signed with INTAKE_HMAC_SECRET, kept in Key Vault as intake-hmac-secret.')
@allowed(['true', 'false'])
param useIntakeHmac string = 'false'

@description('Comma-separated domains that may be invited (empty: any).')
param inviteAllowedDomains string = ''

@description('Comma-separated domains that may not be invited.')
param inviteBlockedDomains string = ''

@description('Comma-separated group object ids callers may name in `groups` (empty: none may be named).')
param inviteAllowedGroups string = ''

@description('\'true\': callers may ask for invitedUserType Member (member-level directory permissions).')
@allowed(['true', 'false'])
param inviteAllowMemberType string = 'false'

@description('\'true\': callers may name a ccRecipients address (it receives the redemption link in Graph\'s email).')
@allowed(['true', 'false'])
param inviteAllowCc string = 'false'

@description('\'true\': callers may send a profile (givenName, department…) that the app writes onto the guest; needs User.ReadWrite.All.')
@allowed(['true', 'false'])
param inviteAllowProfile string = 'false'

@description('\'true\': callers may write their own customizedMessageBody; otherwise they name a messageTemplate.')
@allowed(['true', 'false'])
param inviteAllowCustomMessage string = 'false'

@description('Comma-separated exact host names an inviteRedirectUrl may name (empty: any https host).')
param inviteAllowedRedirectHosts string = 'myapps.microsoft.com'

@description('Operator-written messages callers name with messageTemplate: a JSON object of name to text (empty: none).')
param inviteMessageTemplates string = ''

@description('How often one person may be invited again in 24 hours.')
@minValue(0)
@maxValue(100)
param inviteResendMaxPerDay int = 3

@description('How many people one caller may have invited again in a UTC day.')
@minValue(0)
param inviteResendMaxPerCallerPerDay int = 500

@description('\'true\': event receivers have their own secrets (CALLBACK_SECRETS, host=secret pairs), kept in Key Vault as callback-secrets.')
@allowed(['true', 'false'])
param useCallbackSecrets string = 'false'

@description('How far a signed submission\'s timestamp may be from now, in seconds.')
@minValue(1)
@maxValue(3600)
param intakeHmacToleranceSeconds int = 300

@description('A Queued record untouched this long is presumed to have lost its queue message.')
@minValue(30)
param queuedStaleAfterSeconds int = 600

@description('While the app cannot sign in to Graph, how often a fresh token is asked for.')
@minValue(1)
@maxValue(3600)
param graphSigninProbeSeconds int = 30

@description('While the tenant refuses invitations (abuse block, guest-invite setting, directory quota), how often one probe invitation checks whether it is over.')
@minValue(1)
@maxValue(1440)
param tenantPauseProbeMinutes int = 60

@description('How long a worker\'s claim on a person lasts.')
@minValue(5)
@maxValue(3600)
param claimLeaseSeconds int = 300

@description('How long one invocation retries Graph before handing the message back (less than claimLeaseSeconds).')
@minValue(1)
@maxValue(3600)
param workerInvocationBudgetSeconds int = 120

@description('When partnerOnboarding looks for rosters (NCRONTAB, six fields).')
param partnerOnboardingSchedule string = '0 */15 * * * *'

@description('How long one onboarding or tracker run works before it stops cleanly.')
@minValue(1)
@maxValue(3600)
param partnerOnboardingBudgetSeconds int = 480

@description('When requeueStrandedInvitations looks for people whose message was lost (NCRONTAB).')
param strandedSweepSchedule string = '0 7 * * * *'

@description('Who emails the invitation: graph (Graph\'s own email) or mail (our own, from inviteSender; needs Mail.Send).')
@allowed(['graph', 'mail'])
param inviteDelivery string = 'graph'

@description('The mailbox our own emails come from (with inviteDelivery mail).')
param inviteSender string = ''

@description('Messages the sending mailbox sends a minute (Exchange Online: about 30).')
@minValue(1)
param mailMaxPerMinute int = 30

@description('Recipients the sending mailbox reaches a day (Exchange Online: 10,000).')
@minValue(1)
param mailMaxRecipientsPerDay int = 10000

@description('The inviting organisation, named in our own emails (with inviteDelivery mail).')
param inviteBrandName string = ''

@description('An https logo for our own emails.')
param inviteBrandLogoUrl string = ''

@description('The colour of our own emails (#rrggbb).')
param inviteBrandColor string = ''

@description('When trackRedemptions reads who accepted, reminds and expires (NCRONTAB).')
param redemptionCheckSchedule string = '0 */30 * * * *'

@description('Users the tracker reads per second.')
@minValue(1)
@maxValue(1000)
param graphMaxReadsPerSecond int = 40

@description('ISO 8601 duration (P7D) after which pending people are reminded; empty: never.')
param reminderAfter string = ''

@description('At most this many reminders per person.')
@minValue(0)
@maxValue(10)
param reminderMax int = 2

@description('ISO 8601 duration (P30D) after which pending people expire; empty: never.')
param expireAfter string = ''

@description('What expiry does to the guest this app created: report, disable or delete.')
@allowed(['report', 'disable', 'delete'])
param expiredAction string = 'report'

@description('true lets callers mark leavers (DELETE /api/invitations/{id}) and partners\' rosters sync (metadata sync=true).')
@allowed(['true', 'false'])
param inviteAllowLeavers string = 'false'

@description('What is done to a leaver\'s guest (only one this app created): report, disable or delete.')
@allowed(['report', 'disable', 'delete'])
param leaverAction string = 'disable'

@description('ISO 8601 duration (P7D) the leaver action waits; empty: at once.')
param leaverGrace string = ''

@description('A synced roster that would make more than this percentage of its partner\'s people leavers stops and asks.')
@minValue(0)
@maxValue(100)
param syncMaxLeaversPercent int = 20

@description('https URL every status change is POSTed to (signed with notify-hmac-secret from Key Vault).')
param notifyUrl string = ''

@description('Hosts (host or host:port) a submission\'s callbackUrl may name; empty: none.')
param callbackAllowedHosts string = ''

@description('Delivery attempts of one event before it is parked.')
@minValue(1)
@maxValue(30)
param notifyMaxAttempts int = 12

@description('The wait after a first failed delivery, doubled after each.')
@minValue(1)
@maxValue(3600)
param notifyFirstRetrySeconds int = 10

@description('The client id of the app registration that defines the app roles Invitations.Submit, Invitations.Read and Invitations.Operate. Set: callers sign in with Entra (API_CALLER_AUTH=entra), no function keys (docs/deploy.md).')
param apiCallerClientId string = ''

@description('The client id of an app registration for signing in to the dashboard with Entra (App Service Authentication). Empty: no sign-in (docs/deploy.md).')
param dashboardSignInClientId string = ''

@description('Instances the app may scale out to. Graph\'s budget is shared by all instances (the app paces as one), so this bounds cost and storage heartbeats, not Graph\'s rate.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance, in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var appName = 'func-invite-${resourceToken}'
var deploymentContainerName = 'app-package-${take(appName, 32)}-${take(resourceToken, 7)}'
// Events are signed with notify-hmac-secret from Key Vault whenever they can be sent.
var sendsEvents = !empty(notifyUrl) || !empty(callbackAllowedHosts)
var needsKeyVault = graphCaller != 'managedIdentity' || useIntakeHmac == 'true' || useCallbackSecrets == 'true' || sendsEvents
var keyVaultName = 'kv-invite-${take(resourceToken, 13)}'

resource resourceGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: resourceGroup
  params: { location: location, tags: tags, name: 'id-invite-${resourceToken}' }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: resourceGroup
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-invite-${resourceToken}'
    applicationInsightsName: 'appi-invite-${resourceToken}'
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: resourceGroup
  params: {
    location: location
    tags: tags
    name: 'stinvite${take(resourceToken, 16)}'
    deploymentContainerName: deploymentContainerName
  }
}

module storageAccess 'modules/storageAccess.bicep' = {
  name: 'storage-access'
  scope: resourceGroup
  params: { storageAccountName: storage.outputs.name, principalId: identity.outputs.principalId }
}

module monitoringAccess 'modules/monitoringAccess.bicep' = {
  name: 'monitoring-access'
  scope: resourceGroup
  params: { applicationInsightsName: monitoring.outputs.applicationInsightsName, principalId: identity.outputs.principalId }
}

module keyVault 'modules/keyVault.bicep' = if (needsKeyVault) {
  name: 'key-vault'
  scope: resourceGroup
  params: {
    location: location
    tags: tags
    name: keyVaultName
    appPrincipalId: identity.outputs.principalId
    operatorPrincipalId: principalId
    operatorPrincipalType: principalType
  }
}

module functionApp 'modules/functionApp.bicep' = {
  name: 'function-app'
  scope: resourceGroup
  dependsOn: [storageAccess, monitoringAccess, keyVault]
  params: {
    location: location
    tags: tags
    planName: 'plan-invite-${resourceToken}'
    appName: appName
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    graphCaller: graphCaller
    graphTenantId: graphTenantId
    graphClientId: graphClientId
    graphEndpoint: graphEndpoint
    graphAuthorityHost: graphAuthorityHost
    graphMaxWritesPerSecond: graphMaxWritesPerSecond
    keyVaultName: keyVaultName
    useIntakeHmac: useIntakeHmac == 'true'
    inviteAllowedDomains: inviteAllowedDomains
    inviteBlockedDomains: inviteBlockedDomains
    inviteAllowedGroups: inviteAllowedGroups
    inviteAllowMemberType: inviteAllowMemberType
    inviteAllowCc: inviteAllowCc
    inviteAllowProfile: inviteAllowProfile
    inviteAllowCustomMessage: inviteAllowCustomMessage
    inviteAllowedRedirectHosts: inviteAllowedRedirectHosts
    inviteMessageTemplates: inviteMessageTemplates
    inviteResendMaxPerDay: inviteResendMaxPerDay
    inviteResendMaxPerCallerPerDay: inviteResendMaxPerCallerPerDay
    useCallbackSecrets: useCallbackSecrets == 'true'
    sendsEvents: sendsEvents
    intakeHmacToleranceSeconds: intakeHmacToleranceSeconds
    queuedStaleAfterSeconds: queuedStaleAfterSeconds
    graphSigninProbeSeconds: graphSigninProbeSeconds
    tenantPauseProbeMinutes: tenantPauseProbeMinutes
    claimLeaseSeconds: claimLeaseSeconds
    workerInvocationBudgetSeconds: workerInvocationBudgetSeconds
    partnerOnboardingSchedule: partnerOnboardingSchedule
    partnerOnboardingBudgetSeconds: partnerOnboardingBudgetSeconds
    strandedSweepSchedule: strandedSweepSchedule
    inviteDelivery: inviteDelivery
    inviteSender: inviteSender
    mailMaxPerMinute: mailMaxPerMinute
    mailMaxRecipientsPerDay: mailMaxRecipientsPerDay
    inviteBrandName: inviteBrandName
    inviteBrandLogoUrl: inviteBrandLogoUrl
    inviteBrandColor: inviteBrandColor
    redemptionCheckSchedule: redemptionCheckSchedule
    graphMaxReadsPerSecond: graphMaxReadsPerSecond
    reminderAfter: reminderAfter
    reminderMax: reminderMax
    expireAfter: expireAfter
    expiredAction: expiredAction
    inviteAllowLeavers: inviteAllowLeavers
    leaverAction: leaverAction
    leaverGrace: leaverGrace
    syncMaxLeaversPercent: syncMaxLeaversPercent
    notifyUrl: notifyUrl
    callbackAllowedHosts: callbackAllowedHosts
    notifyMaxAttempts: notifyMaxAttempts
    notifyFirstRetrySeconds: notifyFirstRetrySeconds
    dashboardSignInClientId: dashboardSignInClientId
    apiCallerClientId: apiCallerClientId
  }
}

output AZURE_RESOURCE_GROUP string = resourceGroup.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_MANAGED_IDENTITY_NAME string = identity.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_KEY_VAULT_NAME string = needsKeyVault ? keyVaultName : ''
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output DASHBOARD_URL string = 'https://${functionApp.outputs.defaultHostName}/api/dashboard'
