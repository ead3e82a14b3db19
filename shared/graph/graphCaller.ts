import {
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import type { Settings } from '../settings';

/**
 * Who calls Graph, and where: the application credential for User.Invite.All and the endpoints of
 * the cloud it lives in. GRAPH_ENDPOINT and GRAPH_AUTHORITY_HOST select a national cloud
 * (graph.microsoft.us with login.microsoftonline.us; microsoftgraph.chinacloudapi.cn with
 * login.chinacloudapi.cn) or, in development, the Graph emulator.
 */

export interface GraphEndpoints {
  invitationsUrl: string;
  /** `<GRAPH_ENDPOINT>/v1.0`: the user routes and `$batch` (graphDirectoryClient.ts). */
  versionUrl: string;
  /** Client-credential flows ask for `<resource>/.default`: every application role granted. */
  scope: string;
  authorityHost: string;
}

export function graphEndpoints(settings: Pick<Settings, 'GRAPH_ENDPOINT' | 'GRAPH_AUTHORITY_HOST'>): GraphEndpoints {
  return {
    invitationsUrl: `${settings.GRAPH_ENDPOINT}/v1.0/invitations`,
    versionUrl: `${settings.GRAPH_ENDPOINT}/v1.0`,
    scope: `${settings.GRAPH_ENDPOINT}/.default`,
    authorityHost: settings.GRAPH_AUTHORITY_HOST,
  };
}

// Microsoft's own authorities; MSAL's instance discovery knows them. Any other host (the local
// emulator) must skip discovery, or MSAL asks login.microsoftonline.com about it and fails.
const KNOWN_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);

export type GraphCallerKind = 'client secret' | 'client certificate' | 'workload identity' | 'managed identity';

export interface GraphCaller {
  kind: GraphCallerKind;
  /** A new credential (a new token cache): one per process, and a fresh one after a 401. */
  createCredential(): TokenCredential;
}

export function graphCaller(settings: Settings): GraphCaller {
  const { GRAPH_TENANT_ID: tenantId, GRAPH_CLIENT_ID: clientId } = settings;
  const options = {
    authorityHost: settings.GRAPH_AUTHORITY_HOST,
    disableInstanceDiscovery: !KNOWN_AUTHORITY_HOSTS.has(new URL(settings.GRAPH_AUTHORITY_HOST).hostname),
  };
  if (settings.GRAPH_CLIENT_SECRET) {
    const secret = settings.GRAPH_CLIENT_SECRET;
    return { kind: 'client secret', createCredential: () => new ClientSecretCredential(tenantId!, clientId!, secret, options) };
  }
  if (settings.GRAPH_CLIENT_CERTIFICATE_PATH) {
    const certificatePath = settings.GRAPH_CLIENT_CERTIFICATE_PATH;
    return {
      kind: 'client certificate',
      createCredential: () => new ClientCertificateCredential(tenantId!, clientId!, { certificatePath }, options),
    };
  }
  if (settings.GRAPH_CLIENT_CERTIFICATE) {
    const certificate = settings.GRAPH_CLIENT_CERTIFICATE;
    return {
      kind: 'client certificate',
      createCredential: () => new ClientCertificateCredential(tenantId!, clientId!, { certificate }, options),
    };
  }
  if (settings.AZURE_FEDERATED_TOKEN_FILE) {
    const tokenFilePath = settings.AZURE_FEDERATED_TOKEN_FILE;
    return {
      kind: 'workload identity',
      createCredential: () =>
        new WorkloadIdentityCredential({ ...options, tokenFilePath, ...(tenantId ? { tenantId } : {}), ...(clientId ? { clientId } : {}) }),
    };
  }
  return {
    kind: 'managed identity',
    createCredential: () => (clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential()),
  };
}
