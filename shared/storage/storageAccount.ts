import { TableClient } from '@azure/data-tables';
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { ContainerClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { SettingsError, type Settings } from '../settings';

/**
 * The storage account the Functions host itself uses: the `AzureWebJobsStorage` connection string
 * (UseDevelopmentStorage=true included), or, when it is absent, the identity-based
 * `AzureWebJobsStorage__*` settings with a managed identity, exactly as the host reads them.
 */
export interface StorageAccount {
  queueClient(queueName: string): QueueClient;
  tableClient(tableName: string): TableClient;
  containerClient(containerName: string): ContainerClient;
}

const DEVELOPMENT_STORAGE = 'UseDevelopmentStorage=true';
// Azurite's well-known development account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite).
const DEVELOPMENT_CONNECTION_STRING =
  'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;' +
  'AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;' +
  'BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;' +
  'TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;';

export function storageAccountFromSettings(settings: Settings): StorageAccount {
  if (settings.AzureWebJobsStorage) {
    const connectionString =
      settings.AzureWebJobsStorage.trim() === DEVELOPMENT_STORAGE ? DEVELOPMENT_CONNECTION_STRING : settings.AzureWebJobsStorage;
    const insecure = /DefaultEndpointsProtocol=http;/i.test(connectionString);
    return {
      queueClient: (name) => new QueueClient(connectionString, name),
      tableClient: (name) => TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: insecure }),
      containerClient: (name) => new ContainerClient(connectionString, name),
    };
  }
  const { queueServiceUri, tableServiceUri, blobServiceUri } = identityBasedServiceUris(settings);
  const credential = storageCredential(settings);
  return {
    queueClient: (name) => new QueueClient(`${queueServiceUri}/${name}`, credential),
    tableClient: (name) => new TableClient(tableServiceUri, name, credential),
    containerClient: (name) => {
      if (!blobServiceUri)
        throw new SettingsError(
          'Setting AzureWebJobsStorage__blobServiceUri (or __accountName) is missing: partner rosters live in blob storage.',
        );
      return new ContainerClient(`${blobServiceUri}/${name}`, credential);
    },
  };
}

function identityBasedServiceUris(settings: Settings): { queueServiceUri: string; tableServiceUri: string; blobServiceUri?: string } {
  const account = settings.AzureWebJobsStorage__accountName;
  const queueServiceUri = settings.AzureWebJobsStorage__queueServiceUri ?? (account && `https://${account}.queue.core.windows.net`);
  const tableServiceUri = settings.AzureWebJobsStorage__tableServiceUri ?? (account && `https://${account}.table.core.windows.net`);
  const blobServiceUri = settings.AzureWebJobsStorage__blobServiceUri ?? (account && `https://${account}.blob.core.windows.net`);
  if (!queueServiceUri || !tableServiceUri) throw new SettingsError('Setting AzureWebJobsStorage is missing (see loadSettings).');
  const trim = (uri: string) => uri.replace(/\/+$/, '');
  return {
    queueServiceUri: trim(queueServiceUri),
    tableServiceUri: trim(tableServiceUri),
    ...(blobServiceUri ? { blobServiceUri: trim(blobServiceUri) } : {}),
  };
}

function storageCredential(settings: Settings): TokenCredential {
  const clientId = settings.AzureWebJobsStorage__clientId;
  if (settings.AzureWebJobsStorage__credential?.toLowerCase() === 'managedidentity') {
    return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
  }
  return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
}
