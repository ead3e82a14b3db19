import { defineTimer } from './runtime/defineFunction';

/**
 * Timer, every minute: queues the callers' events left in the outbox (shared/lifecycle/eventOutbox.ts):
 * those whose queueing failed right after their change, or whose process died first. The same
 * change keeps the same event id, so a receiver that heard it already recognises it.
 */
export const relayInvitationEvents = defineTimer({
  name: 'relayInvitationEvents',
  schedule: '0 * * * * *',
  handler: (deps) => async (_timer, context) => {
    const relayed = await deps.eventOutbox.relayStranded();
    // An event that waited in the outbox means the events queue failed for a while: worth a warning.
    if (relayed > 0) context.warn(`relayInvitationEvents: ${relayed} event(s) waiting in the outbox were queued.`);
  },
});
