import { z } from 'zod';

/** Where a batch came from, as GET /api/batches shows it. */
export const batchSourceSchema = z.object({
  /** `api`: POST /api/invitations; `cli`: `npx entra-invite submit`; `roster`: a roster dropped in blob storage. */
  kind: z.enum(['api', 'cli', 'roster']),
  /** The roster's blob name, for a roster. */
  roster: z.string().optional(),
});
export type BatchSource = z.infer<typeof batchSourceSchema>;

/** The header by which `npx entra-invite` names itself, so that its batches are listed as the CLI's. */
export const CLIENT_HEADER = 'x-entra-invite-client';

/** A submission's source from its CLIENT_HEADER: `cli` when it says so, `api` for anything else. */
export function sourceFromClientHeader(value: string | null): BatchSource {
  return value === 'cli' ? { kind: 'cli' } : { kind: 'api' };
}
