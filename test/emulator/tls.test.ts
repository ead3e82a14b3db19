import { inject, it, expect } from 'vitest';
import { ensureLocalCertificate } from '../../local/graphEmulator/localCertificate';
import { GraphEmulator } from '../../local/graphEmulator/graphEmulator';
it('trusts the emulator', async () => {
  const certificate = await ensureLocalCertificate(inject('localCertificateFolder'));
  const emulator = await GraphEmulator.start({ certificate, apps: [] });
  const response = await fetch(`${emulator.url}/t/v2.0/.well-known/openid-configuration`);
  expect(response.status).toBe(200);
  await emulator.stop();
});
