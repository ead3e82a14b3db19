/** Partners' roster files in blob storage: read row by row, submitted, their progress and results kept. */

export { PartnerOnboarding, ROSTERS_CONTAINER } from './partnerOnboarding';
export { RosterProgressStore } from './rosterProgress';
export { RosterSync } from './rosterSync';
