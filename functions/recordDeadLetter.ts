import { INVITATIONS_QUEUE, poisonQueueName } from '../shared/storage';
import { defineQueue } from './runtime/defineFunction';

/** Queue trigger on `invitations-poison`: the host gave up on a message; the person is DeadLettered. */
export const recordDeadLetter = defineQueue({
  name: 'recordDeadLetter',
  queueName: poisonQueueName(INVITATIONS_QUEUE),
  connection: 'AzureWebJobsStorage',
  handler: (deps) => async (message, context) => {
    await deps.worker.deadLetter(message, context);
  },
});
