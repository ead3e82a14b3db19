import { EVENTS_QUEUE } from '../shared/lifecycle';
import { defineQueue } from './runtime/defineFunction';

/** Queue trigger on `invitation-events`: one status change POSTed to its caller (shared/lifecycle/invitationEvents.ts). */
export const deliverInvitationEvent = defineQueue({
  name: 'deliverInvitationEvent',
  queueName: EVENTS_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: (deps) => async (message, context) => {
    await deps.events.deliver(message, context);
  },
});
