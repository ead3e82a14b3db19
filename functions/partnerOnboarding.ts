import { settingsSchema } from '../shared/settings';
import { defineTimer } from './runtime/defineFunction';

/**
 * Timer: invites the people of every new roster in the `partner-rosters` container. The schedule
 * is read from PARTNER_ONBOARDING_SCHEDULE when the app starts (a default applies when it is
 * unset, which a `%SETTING%` binding expression would not allow).
 */
export const partnerOnboarding = defineTimer({
  name: 'partnerOnboarding',
  schedule: settingsSchema.shape.PARTNER_ONBOARDING_SCHEDULE.parse(process.env.PARTNER_ONBOARDING_SCHEDULE || undefined),
  handler: (deps) => async (_timer, context) => {
    const run = await deps.partnerOnboarding.run(context);
    context.info(
      `partnerOnboarding: ${run.recorded.length} roster(s) recorded, ${run.planned.length} planned (dryRun), ${run.resumedLater.length} left for the next run, ${run.failed.length} failed, ${run.completed.length} with results written.`,
    );
  },
});
