import { settingsSchema } from '../shared/settings';
import { defineTimer } from './runtime/defineFunction';

/**
 * Timer: queues again the people whose record is Queued but whose queue message was lost (see
 * shared/worker/strandedInvitationSweeper.ts). Runs hourly by default (STRANDED_SWEEP_SCHEDULE, read when the
 * app starts), and does nothing while the queues hold any message.
 */
export const requeueStrandedInvitations = defineTimer({
  name: 'requeueStrandedInvitations',
  schedule: settingsSchema.shape.STRANDED_SWEEP_SCHEDULE.parse(process.env.STRANDED_SWEEP_SCHEDULE || undefined),
  handler: (deps) => async (_timer, context) => {
    const sweep = await deps.strandedSweeper.sweep();
    if (sweep.waitingMessages > 0) {
      context.info(
        `requeueStrandedInvitations: ${sweep.waitingMessages} message(s) still queued; nothing to sweep until they are processed.`,
      );
      return;
    }
    const left = sweep.leftForNextSweep > 0 ? `, ${sweep.leftForNextSweep} left for the next sweep` : '';
    const summary = `requeueStrandedInvitations: ${sweep.requeued} invitation(s) had lost their queue message and were queued again${left}.`;
    // A stranded record means an intake was cut short: worth a warning, not routine.
    if (sweep.requeued > 0) context.warn(summary);
    else context.info(summary);
  },
});
