import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import { inject } from 'vitest';
import { ensureLocalCertificate } from '../../local/graphEmulator/localCertificate';
import { readBody } from '../../local/graphEmulator/emulatorHttp';
import type { AppDependencies } from '../../shared/appDependencies';
import { deliverInvitationEvent } from '../../functions/deliverInvitationEvent';
import { QueueListener } from '../../local/queueListener';
import { FAST_TRIGGER, type CapturedLogs } from './pipeline';

/** One POST the receiver got, as it got it. */
export interface ReceivedEvent {
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * A caller's HTTPS endpoint for events (the local certificate, which the test processes trust):
 * it records every POST and answers `status()` (200 unless a test makes it fail).
 */
export async function startEventReceiver(status: () => number = () => 200) {
  const certificate = await ensureLocalCertificate(inject('localCertificateFolder'));
  const received: ReceivedEvent[] = [];
  const server: Server = createServer({ cert: certificate.certificatePem, key: certificate.privateKeyPem }, (request, response) => {
    void readBody(request).then((body) => {
      received.push({ body, headers: request.headers });
      response.writeHead(status()).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    received,
    host: `localhost:${port}`,
    url: `https://localhost:${port}/hooks/invitations`,
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** The events queue's trigger, as the Functions host would run deliverInvitationEvent on the test's queue. */
export function startEventDelivery(deps: AppDependencies, logs: CapturedLogs) {
  const listener = new QueueListener({
    ...FAST_TRIGGER,
    functionName: deliverInvitationEvent.name,
    queue: deps.events.queue,
    poisonQueue: deps.events.poisonQueue,
    handler: deliverInvitationEvent.handler(deps),
    logHandler: logs.handler,
  });
  listener.start();
  return { stop: () => listener.stop() };
}
