import { INVITATIONS_QUEUE } from '../shared/storage';
import { defineQueue } from './runtime/defineFunction';

/** Queue trigger on `invitations`: one person to Graph and back to a recorded outcome. */
export const processInvitation = defineQueue({
  name: 'processInvitation',
  queueName: INVITATIONS_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: (deps) => async (message, context) => {
    await deps.worker.process(message, context.invocationId, context);
  },
});
