// The function app on the Flex Consumption plan (Node 22), running as the user-assigned identity,
// with every app setting the code reads (see shared/settings.ts; test/infra checks they agree).
param location string
param tags object
param planName string
param appName string
param storageAccountName string
param storageBlobEndpoint string
@description('The account\'s own service endpoints (primaryEndpoints), right in every cloud: *.core.windows.net, *.core.usgovcloudapi.net, *.core.chinacloudapi.cn.')
param storageQueueEndpoint string
param storageTableEndpoint string
param deploymentContainerName string
param identityId string
param identityClientId string
param applicationInsightsConnectionString string
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int
@allowed([512, 2048, 4096])
param instanceMemoryMB int
@allowed(['managedIdentity', 'appRegistrationSecret', 'appRegistrationCertificate'])
param graphCaller string
param graphTenantId string
param graphClientId string
param graphEndpoint string
param graphAuthorityHost string
param graphMaxWritesPerSecond int
param keyVaultName string
param useIntakeHmac bool
param inviteAllowedDomains string
param inviteBlockedDomains string
param inviteAllowedGroups string
param inviteAllowMemberType string
param inviteAllowCc string
param inviteAllowProfile string
param inviteAllowCustomMessage string
param inviteAllowedRedirectHosts string
param inviteMessageTemplates string
param inviteResendMaxPerDay int
param inviteResendMaxPerCallerPerDay int
param useCallbackSecrets bool
param sendsEvents bool
param intakeHmacToleranceSeconds int
param queuedStaleAfterSeconds int
param graphSigninProbeSeconds int
param tenantPauseProbeMinutes int
param claimLeaseSeconds int
param workerInvocationBudgetSeconds int
param partnerOnboardingSchedule string
param partnerOnboardingBudgetSeconds int
param strandedSweepSchedule string
param inviteDelivery string
param inviteSender string
param mailMaxPerMinute int
param mailMaxRecipientsPerDay int
param inviteBrandName string
param inviteBrandLogoUrl string
param inviteBrandColor string
param redemptionCheckSchedule string
param graphMaxReadsPerSecond int
param reminderAfter string
param reminderMax int
param expireAfter string
param expiredAction string
param inviteAllowLeavers string
param leaverAction string
param leaverGrace string
param syncMaxLeaversPercent int
param notifyUrl string
param callbackAllowedHosts string
param notifyMaxAttempts int
param notifyFirstRetrySeconds int
@description('An app registration for signing in to the dashboard (empty: no sign-in; the page is public, its data behind function keys).')
param dashboardSignInClientId string
param apiCallerClientId string

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

func keyVaultReference(vaultName string, secretName string) string => '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=${secretName})'

// The app's own settings; the Flex plan sets the runtime itself (FUNCTIONS_WORKER_RUNTIME is not allowed).
var baseSettings = {
  // Service URIs from the account itself, not built from its name: national clouds have other suffixes.
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  GRAPH_ENDPOINT: graphEndpoint
  GRAPH_AUTHORITY_HOST: graphAuthorityHost
  GRAPH_MAX_WRITES_PER_SECOND: string(graphMaxWritesPerSecond)
  INVITE_ALLOWED_DOMAINS: inviteAllowedDomains
  INVITE_BLOCKED_DOMAINS: inviteBlockedDomains
  // What callers may ask for: each power the operator's to grant (docs/security.md).
  INVITE_ALLOWED_GROUPS: inviteAllowedGroups
  INVITE_ALLOW_MEMBER_TYPE: inviteAllowMemberType
  INVITE_ALLOW_CC: inviteAllowCc
  INVITE_ALLOW_PROFILE: inviteAllowProfile
  INVITE_ALLOW_CUSTOM_MESSAGE: inviteAllowCustomMessage
  INVITE_ALLOWED_REDIRECT_HOSTS: inviteAllowedRedirectHosts
  INVITE_MESSAGE_TEMPLATES: inviteMessageTemplates
  INVITE_RESEND_MAX_PER_DAY: string(inviteResendMaxPerDay)
  INVITE_RESEND_MAX_PER_CALLER_PER_DAY: string(inviteResendMaxPerCallerPerDay)
  // Every other setting an operator tunes comes from the azd environment too, so that the next
  // `azd provision` (which writes all app settings) keeps it.
  INTAKE_HMAC_TOLERANCE_SECONDS: string(intakeHmacToleranceSeconds)
  QUEUED_STALE_AFTER_SECONDS: string(queuedStaleAfterSeconds)
  GRAPH_SIGNIN_PROBE_SECONDS: string(graphSigninProbeSeconds)
  TENANT_PAUSE_PROBE_MINUTES: string(tenantPauseProbeMinutes)
  CLAIM_LEASE_SECONDS: string(claimLeaseSeconds)
  WORKER_INVOCATION_BUDGET_SECONDS: string(workerInvocationBudgetSeconds)
  PARTNER_ONBOARDING_SCHEDULE: partnerOnboardingSchedule
  PARTNER_ONBOARDING_BUDGET_SECONDS: string(partnerOnboardingBudgetSeconds)
  STRANDED_SWEEP_SCHEDULE: strandedSweepSchedule
  INVITE_DELIVERY: inviteDelivery
  INVITE_SENDER: inviteSender
  MAIL_MAX_PER_MINUTE: string(mailMaxPerMinute)
  MAIL_MAX_RECIPIENTS_PER_DAY: string(mailMaxRecipientsPerDay)
  INVITE_BRAND_NAME: inviteBrandName
  INVITE_BRAND_LOGO_URL: inviteBrandLogoUrl
  INVITE_BRAND_COLOR: inviteBrandColor
  REDEMPTION_CHECK_SCHEDULE: redemptionCheckSchedule
  GRAPH_MAX_READS_PER_SECOND: string(graphMaxReadsPerSecond)
  REMINDER_AFTER: reminderAfter
  REMINDER_MAX: string(reminderMax)
  EXPIRE_AFTER: expireAfter
  EXPIRED_ACTION: expiredAction
  INVITE_ALLOW_LEAVERS: inviteAllowLeavers
  LEAVER_ACTION: leaverAction
  LEAVER_GRACE: leaverGrace
  SYNC_MAX_LEAVERS_PERCENT: string(syncMaxLeaversPercent)
  NOTIFY_URL: notifyUrl
  CALLBACK_ALLOWED_HOSTS: callbackAllowedHosts
  NOTIFY_MAX_ATTEMPTS: string(notifyMaxAttempts)
  NOTIFY_FIRST_RETRY_SECONDS: string(notifyFirstRetrySeconds)
}

// Who calls Graph: by default the managed identity itself (no secret anywhere); otherwise an app
// registration whose secret or certificate stays in Key Vault.
var managedIdentityCaller = {
  GRAPH_CLIENT_ID: identityClientId
}
var appRegistrationCaller = {
  // The app registration lives in this tenant unless said otherwise.
  GRAPH_TENANT_ID: empty(graphTenantId) ? tenant().tenantId : graphTenantId
  GRAPH_CLIENT_ID: graphClientId
}
var appRegistrationSecret = {
  GRAPH_CLIENT_SECRET: keyVaultReference(keyVaultName, 'graph-client-secret')
}
var appRegistrationCertificate = {
  GRAPH_CLIENT_CERTIFICATE: keyVaultReference(keyVaultName, 'graph-client-certificate')
}
var appRegistrationCredential = graphCaller == 'appRegistrationSecret' ? appRegistrationSecret : appRegistrationCertificate
var graphCallerSettings = graphCaller == 'managedIdentity' ? managedIdentityCaller : union(appRegistrationCaller, appRegistrationCredential)

var intakeHmacSetting = {
  INTAKE_HMAC_SECRET: keyVaultReference(keyVaultName, 'intake-hmac-secret')
}
var intakeSettings = useIntakeHmac ? intakeHmacSetting : {}

var callbackSecretsSetting = {
  CALLBACK_SECRETS: keyVaultReference(keyVaultName, 'callback-secrets')
}
var callbackSettings = useCallbackSecrets ? callbackSecretsSetting : {}

var notifySecretSetting = {
  NOTIFY_HMAC_SECRET: keyVaultReference(keyVaultName, 'notify-hmac-secret')
}
var notifySettings = sendsEvents ? notifySecretSetting : {}

var dashboardSignIn = !empty(dashboardSignInClientId)
var dashboardSettings = {
  DASHBOARD_REQUIRE_SIGN_IN: dashboardSignIn ? 'true' : 'false'
}

// Callers with their own Entra identity: the platform validates their tokens for this registration,
// and the app checks the app role each route needs (functions/runtime/callerRoles.ts).
var entraCallers = !empty(apiCallerClientId)
var callerAuthSettings = {
  API_CALLER_AUTH: entraCallers ? 'entra' : 'keys'
}
var signInClientId = entraCallers ? apiCallerClientId : dashboardSignInClientId
var allowedAudiences = union(
  entraCallers ? [apiCallerClientId, 'api://${apiCallerClientId}'] : [],
  dashboardSignIn ? [dashboardSignInClientId, 'api://${dashboardSignInClientId}'] : []
)

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: { name: 'node', version: '22' }
    }
  }
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: union(baseSettings, graphCallerSettings, intakeSettings, callbackSettings, notifySettings, dashboardSettings, callerAuthSettings)
}

// App Service Authentication (Entra sign-in) for the dashboard, and for callers with their own
// Entra identity. It does not require sign-in for every route: with function keys, webhooks and the
// CLI never sign in; with API_CALLER_AUTH=entra the app refuses a route to a caller without its role. The
// platform signs readers in and passes who they are in X-MS-CLIENT-PRINCIPAL-* headers; the
// dashboard's function sends anyone without them to /.auth/login/aad.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = if (dashboardSignIn || entraCallers) {
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: { requireHttps: true }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: signInClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: allowedAudiences
        }
      }
    }
    login: { tokenStore: { enabled: true } }
  }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
