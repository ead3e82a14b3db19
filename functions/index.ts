/**
 * Entry point (package.json "main"): the Functions worker loads this file, which registers every
 * function. Settings are checked here, so a missing or malformed one stops start-up with a sentence
 * naming it rather than failing the first invocation.
 */
import { loadSettings } from '../shared/settings';
import type { FunctionDefinition } from './runtime/defineFunction';
import { submitInvitations } from './submitInvitations';
import { getInvitation } from './getInvitation';
import { findInvitations } from './findInvitations';
import { getBatch } from './getBatch';
import { processInvitation } from './processInvitation';
import { recordDeadLetter } from './recordDeadLetter';

loadSettings();

export const appFunctions: FunctionDefinition[] = [submitInvitations, getInvitation, findInvitations, getBatch, processInvitation, recordDeadLetter];
