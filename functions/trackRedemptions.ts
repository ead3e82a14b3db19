import { settingsSchema } from '../shared/settings';
import { defineTimer } from './runtime/defineFunction';

/**
 * Timer: reads who accepted their invitation, reminds and expires the others as configured (see
 * shared/lifecycle/redemptionTracker.ts). Every 30 minutes by default (REDEMPTION_CHECK_SCHEDULE,
 * read when the app starts). Needs User.Read.All; without it each run says so and changes nothing.
 */
export const trackRedemptions = defineTimer({
  name: 'trackRedemptions',
  schedule: settingsSchema.shape.REDEMPTION_CHECK_SCHEDULE.parse(process.env.REDEMPTION_CHECK_SCHEDULE || undefined),
  handler: (deps) => async (_timer, context) => {
    const run = await deps.redemptionTracker.runOnSchedule();
    const counts = ['accepted', 'removed', 'expired', 'reminded'].map(
      (change) => `${run.affected.filter((person) => person.change === change).length} ${change}`,
    );
    const refused = run.affected.filter((person) => person.failed).length;
    const summary = `trackRedemptions: ${run.read} guest(s) read: ${counts.join(', ')}, ${run.pending} still pending${refused ? `; Graph refused the expiry action for ${refused} (each tried again later; the record’s actionError says why)` : ''}.`;
    if (run.expiryReportedOnly) context.warn(`${summary} Expiry not applied: ${run.expiryReportedOnly}.`);
    if (run.stoppedBecause) context.warn(`${summary} Stopped early: ${run.stoppedBecause}.`);
    else if (refused) context.warn(summary);
    else if (!run.expiryReportedOnly) context.info(summary);
  },
});
