// The app's user-assigned managed identity: it reaches storage, Application Insights and Key
// Vault, and by default it is also the caller of Microsoft Graph (scripts/grant-graph-permission.sh).
param location string
param tags object
param name string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
output name string = identity.name
