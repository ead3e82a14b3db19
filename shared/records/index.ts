/** What follows a record's every change: its batch's copy and its caller's event. */

export { RecordChanges } from './recordChanges';
