/**
 * The web interface in a real browser (Debian's Chromium driven by playwright-core) against a
 * real running Protocam (startServer, SQLite, a temporary data dir, the built app). Covers
 * sign-in with TOTP enrolment, a camera refusal explained in Dutch with its article, a
 * tag-function check through the purpose form (M 3.5) with the finding, the signature by a
 * manager (M 6.4), role-following navigation with the API refusing too, session expiry,
 * accessibility (axe-core: no serious or critical violations) at 1280x800 and 390 px wide,
 * and the Dutch screenshots in docs/screenshots/.
 */
import { createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { verifyExport } from '../../src/exports/index.js';
import { CONTENT_SECURITY_POLICY } from '../../src/http/web.js';
import { resolveMediaBinaries } from '../../src/media/ffmpeg.js';
import { makeTestClip } from '../../src/media/test-clips.js';
import { HOUR, MINUTE, systemClock } from '../../src/lib/clock.js';
import { createLogger } from '../../src/lib/logger.js';
import { openRuntime, startServer, type Runtime, type Started } from '../../src/server.js';
import { totpAt } from '../../src/users/totp.js';
import { CLI_ACTOR } from '../../src/users/users.service.js';
import { waitFor } from '../recording-fixtures.js';

const CHROMIUM = process.env.PROTOCAM_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`e2e: skipped, no Chromium at ${CHROMIUM}: apt-get install chromium`);
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCREENSHOTS = join(ROOT, 'docs/screenshots');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const PASSWORD = 'een lang wachtwoord 2026';
/** A datetime-local value in Europe/Amsterdam, as the browser's form expects it. */
const isoLocal = (date: Date): string =>
  new Intl.DateTimeFormat('sv-SE', {
    timeZone: 'Europe/Amsterdam',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  })
    .format(date)
    .replace(' ', 'T');
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core in the page (evaluated over the DevTools protocol, so the page's CSP stays strict). */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  // Strings, not functions: this file is type-checked without the DOM library.
  const violations = await page.evaluate<AxeViolation[]>(
    "window.axe.run({ resultTypes: ['violations'] }).then((result) => result.violations)",
  );
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

async function buildWebApp(): Promise<void> {
  const { build } = await import('vite');
  // Vitest sets NODE_ENV=test, which would give React's development build; build what `npm start` serves.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ configFile: join(ROOT, 'web/vite.config.ts'), logLevel: 'warn', mode: 'production' });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
}

const SUITE = haveChromium
  ? 'web interface in Chromium'
  : 'web interface in Chromium (skipped: apt-get install chromium)';

describe.skipIf(!haveChromium)(SUITE, () => {
  let dataDir: string;
  let runtime: Runtime;
  let server: Started;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const links: Record<string, string> = {};
  const pageErrors: string[] = [];
  /** Signed-in pages kept for later tests (a TOTP code cannot be used twice). */
  const pages: Record<string, Page> = {};
  let cameraId = '';
  let incidentId = '';

  const newPage = async (viewport = DESKTOP): Promise<Page> => {
    const context = await browser.newContext({ viewport, locale: 'nl-NL', timezoneId: 'Europe/Amsterdam' });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy/i.test(message.text()))
        pageErrors.push(message.text());
    });
    return page;
  };

  const shot = async (page: Page, name: string) => {
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  };

  const expectAccessible = async (page: Page) => {
    expect(await seriousViolations(page)).toEqual([]);
  };

  /** One-time link, a new password, then TOTP enrolment with the secret shown next to the QR code. */
  const firstSignInWithTotp = async (page: Page, link: string) => {
    await page.goto(link);
    await page.getByLabel('Nieuw wachtwoord').fill(PASSWORD);
    await page.getByRole('button', { name: 'Opslaan en aanmelden' }).click();
    await page.getByRole('heading', { name: 'Tweestapsverificatie instellen' }).waitFor();
    await page.getByRole('img', { name: 'QR-code voor de authenticator-app' }).waitFor();
    const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
    await page.getByLabel('Code', { exact: true }).fill(totpAt(secret, Date.now()));
    await page.getByRole('button', { name: 'Bevestigen' }).click();
    await page.getByRole('heading', { name: 'Overzicht' }).waitFor();
    pages[Object.keys(links).find((name) => links[name] === link) ?? link] = page;
  };

  const menu = async (page: Page) =>
    page.getByRole('navigation', { name: 'Hoofdmenu' }).getByRole('link').allTextContents();

  beforeAll(async () => {
    await buildWebApp();
    mkdirSync(SCREENSHOTS, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'protocam-e2e-'));
    const config = loadConfig({
      PROTOCAM_DATA_DIR: dataDir,
      PROTOCAM_PORT: '0',
      PROTOCAM_POLICY: 'maaswonen-2024',
      PROTOCAM_ORGANISATION_NAME: 'Stichting MaasWonen',
      PROTOCAM_LOG_LEVEL: 'silent',
      // Short segments: the footage tests find recordings a few seconds after the start.
      PROTOCAM_SEGMENT_SECONDS: '2',
    });
    // Real time: the browser fills the purpose form's window from its own clock, and TOTP codes follow it.
    runtime = await openRuntime(config, systemClock, createLogger('silent'));
    server = await startServer(runtime);
    links.admin = server.firstSignInUrl!;

    // Users, doors and door events through the real services (the UI for these is exercised below).
    const add = async (username: string, displayName: string, role: string) => {
      const issued = await runtime.users.addUser(CLI_ACTOR, { username, displayName, roles: [role] });
      links[username] = server.url + issued.signInPath;
    };
    await add('huismeester', 'Henk Huismeester', 'huismeester');
    await add('manager', 'Mira Manager', 'manager-klant-wonen');
    await add('onderhoud', 'Otto Onderhoud', 'technisch-onderhoud');
    await add('jurist', 'Julia Jurist', 'jurist');
    const actor = { id: null, label: 'e2e' };
    const complex = await runtime.registry.createComplex(actor, { name: 'De Linde', ownership: 'corporation' });
    const building = await runtime.registry.createBuilding(actor, { complexId: complex.id, name: 'Blok A' });
    await runtime.registry.createEntrance(actor, { buildingId: building.id, name: 'Hoofdingang', signPresent: false });
    const doors = [
      await runtime.registry.createDoor(actor, { buildingId: building.id, name: 'Voordeur', code: 'D-1' }),
      await runtime.registry.createDoor(actor, { buildingId: building.id, name: 'Bergingdeur', code: 'D-2' }),
    ];
    const source = await runtime.doorEvents.createSource(actor, {
      name: 'Nedap AEOS',
      kind: 'http',
      doorScope: doors.map((d) => d.id),
    });
    const holder = await runtime.keyTags.createHolder(actor, { kind: 'tenant', name: 'Anna de Graaf' });
    await runtime.keyTags.issueTag(actor, { tagCode: 'TAG-42', holderId: holder.id, noticeGiven: true });
    const at = (ago: number) => new Date(Date.now() - ago).toISOString();
    const ingested = await runtime.doorEvents.ingest(source.id, [
      { sourceEventId: 'e1', occurredAt: at(3 * HOUR), door: 'D-1', tag: 'TAG-42', result: 'granted' },
      { sourceEventId: 'e2', occurredAt: at(2 * HOUR), door: 'D-2', tag: 'TAG-42', result: 'denied' },
      { sourceEventId: 'e3', occurredAt: at(30 * MINUTE), door: 'D-1', tag: 'TAG-7', result: 'granted' },
    ]);
    expect(ingested.accepted).toBe(3);

    // A demo camera: the real recorder loops a local clip in real time (file source, issue 4).
    const clip = join(dataDir, 'demo-clip.mp4');
    await makeTestClip(resolveMediaBinaries().ffmpegPath, clip, { seconds: 4 });
    const camera = await runtime.registry.createCamera(actor, {
      buildingId: building.id,
      name: 'Camera hal',
      goals: ['protect-persons'],
      connectionSecured: true,
      streamUrl: pathToFileURL(clip).toString(),
      credentials: { username: 'demo', password: 'demo-wachtwoord' },
    });
    await runtime.registry.activateCamera(actor, camera.id);
    cameraId = camera.id;
    await runtime.recorder.sync();

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--lang=nl-NL'],
    });
  }, 90_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await server?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the app with a strict CSP, deep links fall back to the app, unknown API paths stay JSON 404s', async () => {
    const page = await fetch(`${server.url}/logbook?status=signed`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(page.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    expect(await page.text()).toContain('<div id="root">');
    const api = await fetch(`${server.url}/api/nothing-here`);
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('route-not-found');
  });

  it('the administrator signs in by the one-time link, registers a camera and sees its refusal explained in Dutch', async () => {
    const page = await newPage();
    await page.goto(links.admin!);
    await page.getByLabel('Nieuw wachtwoord').fill(PASSWORD);
    await page.getByRole('button', { name: 'Opslaan en aanmelden' }).click();
    await page.getByRole('heading', { name: 'Overzicht' }).waitFor();
    // The registry finding of the entrance without a sign is on the dashboard (W 3.2, M 3.2).
    await page.getByRole('heading', { name: 'Wat aandacht vraagt' }).waitFor();
    await page
      .getByRole('link', { name: /geen bord/ })
      .first()
      .waitFor();
    // Camera health per complex: the demo camera records.
    await page.getByRole('heading', { name: 'Camera’s per complex' }).waitFor();
    // The administrator sees no personal data: no door events, no logbook in the menu.
    const items = await menu(page);
    expect(items).toEqual(
      expect.arrayContaining([
        'Overzicht',
        'Register',
        'Protocol',
        'Gebruikers',
        'Sleuteltags',
        'Deurbronnen',
        'Audittrail',
      ]),
    );
    expect(items).not.toContain('Deurregistratie');
    expect(items).not.toContain('Logboek');
    await expectAccessible(page);
    await shot(page, 'overzicht');

    await page.getByRole('link', { name: 'Register' }).click();
    await page.getByRole('tab', { name: 'Camera’s' }).click();
    await page.getByText('Nieuwe camera').click();
    await page.getByLabel('Gebouw', { exact: true }).selectOption({ label: 'Blok A' });
    await page.getByLabel('Naam', { exact: true }).fill('Hal begane grond');
    await page.getByRole('button', { name: 'Opslaan' }).click();
    const row = page.getByRole('row', { name: /Hal begane grond/ });
    await row.waitFor();
    await row.getByRole('button', { name: 'Aanzetten' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'De camera mag niet aan' });
    await alert.waitFor();
    // Plain Dutch with the article the rule comes from.
    await expect.poll(() => alert.textContent()).toContain('Kies eerst waarvoor de camera is bedoeld');
    expect(await alert.textContent()).toMatch(/Artikel: .*M \d/);
    await expectAccessible(page);
    await shot(page, 'register-camera-geweigerd');

    await page.getByRole('link', { name: 'Gebruikers' }).click();
    await page.getByRole('cell', { name: 'Henk Huismeester' }).waitFor();
    await expectAccessible(page);
    await shot(page, 'gebruikers');

    await page.getByRole('link', { name: 'Protocol' }).click();
    await page.getByRole('heading', { name: 'Waarschuwingen' }).waitFor();
    // MaasWonen charges for a first copy, which the GDPR forbids: the warning is shown.
    await page.getByText('De AVG (art. 12 lid 5)').waitFor();
    await expectAccessible(page);
    await shot(page, 'protocol');

    // Key tags: issued only with the notice to the holder (M 3.5, M 7), then blocked.
    await page.getByRole('link', { name: 'Sleuteltags' }).click();
    await page.getByText('Tag uitgeven').click();
    await page.getByLabel('Tag', { exact: true }).fill('TAG-99');
    await page.getByLabel('Houder', { exact: true }).selectOption({ index: 1 });
    await page.getByRole('button', { name: 'Uitgeven' }).click();
    await page.getByRole('alert').filter({ hasText: 'alleen uitgegeven als de houder is geïnformeerd' }).waitFor();
    await page.getByLabel(/De houder is geïnformeerd/).check();
    await page.getByRole('button', { name: 'Uitgeven' }).click();
    await page.getByText('Tag TAG-99 is uitgegeven.').waitFor();
    await page
      .getByRole('row', { name: /TAG-99/ })
      .getByRole('button', { name: 'Blokkeren' })
      .click();
    await page.getByText('Tag TAG-99 is geblokkeerd.').waitFor();
    expect(await page.getByRole('row', { name: /TAG-99/ }).textContent()).toContain('geblokkeerd');
    await expectAccessible(page);
    await shot(page, 'sleuteltags');

    // A controller that delivers CSV exports: the administrator creates it with its column mapping in the
    // form; a server validation error is shown at its field.
    await page.getByRole('link', { name: 'Deurbronnen' }).click();
    await page.getByText('Nieuwe bron').click();
    await page.getByLabel('Naam', { exact: true }).fill('Salto export');
    await page.getByLabel('Soort', { exact: true }).selectOption('csv');
    await page.getByLabel('Kolom met het gebeurtenisnummer').fill('nummer');
    await page.getByLabel('Kolom met het tijdstip').fill('tijd');
    // A wrong door column on purpose: it is corrected in the mapping editor below.
    await page.getByLabel('Kolom met de deurcode').fill('deurnummer');
    await page.getByLabel('Kolom met het tagnummer').fill('tag');
    await page.getByLabel('Kolom met het resultaat').fill('resultaat');
    expect(await page.getByLabel('Tijdzone van lokale tijden').getAttribute('placeholder')).toBe('Europe/Amsterdam');
    await page.getByLabel('Tijdzone van lokale tijden').fill('Europe/Nergensland');
    await page.getByLabel('Voordeur (D-1)').check();
    await page.getByLabel('Bergingdeur (D-2)').check();
    await page.getByRole('button', { name: 'Opslaan' }).click();
    const timeZone = page.getByLabel('Tijdzone van lokale tijden');
    await expect.poll(() => timeZone.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#source-mapping-timeZone-error').textContent()).toContain('unknown time zone');
    await expectAccessible(page);
    await shot(page, 'deurbronnen-csv-bron-fout');
    // Empty: the server's default time zone applies.
    await timeZone.fill('');
    await page.getByRole('button', { name: 'Opslaan' }).click();
    await page.getByText('"Salto export" is opgeslagen.').waitFor();
    expect(await page.getByRole('row', { name: /Salto export/ }).textContent()).toContain('CSV');
    await expectAccessible(page);
    // The mapping editor shows the stored mapping, with the server's defaults filled in, and saves a change.
    await page
      .getByRole('row', { name: /Salto export/ })
      .getByRole('button', { name: 'Kolommen wijzigen' })
      .click();
    const editor = page.getByRole('region', { name: 'Kolommen wijzigen voor Salto export' });
    expect(await editor.getByLabel('Tijdzone van lokale tijden').inputValue()).toBe('Europe/Amsterdam');
    expect(await editor.getByLabel('Kolom met de deurcode').inputValue()).toBe('deurnummer');
    await editor.getByLabel('Kolom met de deurcode').fill('deur');
    await expectAccessible(page);
    await editor.getByRole('button', { name: 'Opslaan' }).click();
    await editor.waitFor({ state: 'detached' });

    // CSV import of door events with upload progress; a bad line is refused with its reason.
    await page
      .getByRole('row', { name: /Salto export/ })
      .getByRole('button', { name: 'CSV importeren' })
      .click();
    await page.getByRole('heading', { name: 'CSV importeren voor Salto export' }).waitFor();
    // The import uses the corrected mapping.
    expect(await page.getByText('nummer, tijd, deur, tag, resultaat').count()).toBe(1);
    const time = (ago: number) => new Date(Date.now() - ago).toISOString();
    const csv = [
      'nummer,tijd,deur,tag,resultaat',
      `s1,${time(HOUR)},D-1,TAG-300,granted`,
      `s2,${time(50 * MINUTE)},D-2,TAG-300,denied`,
      `s3,${time(40 * MINUTE)},D-9,TAG-300,granted`,
    ].join('\n');
    await page
      .getByLabel('CSV-bestand')
      .setInputFiles({ name: 'salto.csv', mimeType: 'text/csv', buffer: Buffer.from(csv + '\n') });
    await page.getByRole('button', { name: 'Importeren', exact: true }).click();
    const result = page.getByTestId('csv-import-result');
    await result.waitFor();
    expect(await result.textContent()).toContain('3 regels ontvangen: 2 opgeslagen, 0 dubbel, 0 te laat, 1 geweigerd.');
    const rejected = page.getByRole('table', { name: 'Geweigerde regels' });
    expect(await rejected.getByRole('row').nth(1).textContent()).toMatch(/^4\s*Onbekende deur\.$/);
    await expect
      .poll(() => page.getByRole('row', { name: /Salto export/ }).textContent())
      .toContain('2 opgeslagen, 1 geweigerd');
    await expectAccessible(page);
    await shot(page, 'deurbronnen-csv-import');
  });

  it('a caretaker enrols TOTP, runs a tag-function check through the purpose form and records the finding (M 3.5, M 6.4)', async () => {
    const page = await newPage();
    await firstSignInWithTotp(page, links.huismeester!);
    const items = await menu(page);
    expect(items).toContain('Deurregistratie');
    expect(items).not.toContain('Logboek');
    expect(items).not.toContain('Gebruikers');

    await page.getByRole('link', { name: 'Deurregistratie' }).click();
    await page.getByLabel('Tagnummer').fill('TAG-42');
    await page.locator('#tag-check-reason').fill('Bewoner meldt dat de tag de bergingdeur niet opent.');
    await page.getByRole('button', { name: 'Controleren' }).click();
    await page.getByText('Deze inzage is vastgelegd in het logboek').or(page.getByRole('alert')).first().waitFor();
    expect(await page.getByRole('alert').allTextContents()).toEqual([]);
    const events = page.getByRole('region', { name: 'Registraties' });
    await events.waitFor();
    expect(await events.getByRole('row').count()).toBe(3); // header + the two events of TAG-42
    expect(await events.textContent()).toContain('geweigerd');
    expect(await events.textContent()).not.toContain('Anna'); // never who holds the tag (M 3.5)
    await expectAccessible(page);
    await shot(page, 'deurregistratie-tagcontrole');

    await page.getByLabel('Uw bevinding').fill('Tag werkt; bergingdeur weigert door een defect slot.');
    await page.getByRole('button', { name: 'Bevinding vastleggen' }).click();
    await page.getByText('Uw bevinding is vastgelegd').waitFor();
  });

  it('a role without the right sees neither the menu item nor the data: a direct URL is refused, and so is the API', async () => {
    const page = await newPage();
    await firstSignInWithTotp(page, links.onderhoud!);
    const items = await menu(page);
    expect(items).not.toContain('Logboek');
    expect(items).not.toContain('Deurregistratie');
    for (const path of ['/logbook', '/door-events', '/admin/users']) {
      await page.goto(server.url + path);
      await page.getByRole('heading', { name: 'Geen toegang' }).waitFor();
      expect(await page.getByTestId('logbook-entry').count()).toBe(0);
    }
    const statuses = await page.evaluate(async () =>
      Promise.all(['/api/logbook', '/api/users', '/api/door-event-sources'].map(async (u) => (await fetch(u)).status)),
    );
    expect(statuses).toEqual([403, 403, 403]);
    await expectAccessible(page);
    await shot(page, 'geen-toegang');
  });

  it('a manager sees the entry with its finding in the logbook, signs it, exports it and sees the chain verified', async () => {
    const page = await newPage();
    await firstSignInWithTotp(page, links.manager!);
    expect(await menu(page)).toContain('Logboek');
    await page.getByRole('link', { name: 'Logboek', exact: true }).click();
    await page.getByTestId('logbook-verify').waitFor();
    expect(await page.getByTestId('logbook-verify').textContent()).toContain('Het logboek is onveranderd');
    const entry = page.getByTestId('logbook-entry').filter({ hasText: 'Controle werking sleuteltag' });
    await entry.waitFor();
    expect(await entry.textContent()).toContain('Tag werkt; bergingdeur weigert');
    expect(await entry.textContent()).toContain('huismeester');
    await expectAccessible(page);
    await entry.getByRole('button', { name: /aftekenen/ }).click();
    await page.getByText(/is afgetekend/).waitFor();
    await expect.poll(() => entry.textContent()).toContain('afgetekend');
    expect(await entry.textContent()).toContain('manager');

    // Server-side filter: only signed entries.
    await page.getByLabel('Status').selectOption('signed');
    await page.getByRole('button', { name: 'Filteren' }).click();
    await page.waitForURL(/status=signed/);
    await page.getByTestId('logbook-entry').first().waitFor();
    await shot(page, 'logboek');

    const csv = await page.evaluate(async () => {
      const response = await fetch('/api/logbook/export.csv');
      return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
    });
    expect(csv.status).toBe(200);
    expect(csv.type).toContain('text/csv');
    expect(csv.text).toContain('tag-function-check');

    // The dashboard of a manager: overdue entries and the logbook link.
    await page.getByRole('link', { name: 'Overzicht' }).click();
    await page.getByRole('heading', { name: 'Wat aandacht vraagt' }).waitFor();
  });

  it('a caretaker registers an incident and secures its footage and door events in one action (W 2.4, M 2.4)', async () => {
    const page = pages.huismeester!;
    expect(await menu(page)).toEqual(expect.arrayContaining(['Camerabeelden', 'Incidenten', 'Veiliggestelde beelden']));
    await page.getByRole('link', { name: 'Incidenten' }).click();
    await page.getByText('Incident registreren').click();
    await page.getByLabel('Soort').selectOption('vandalism');
    await page.getByLabel('Titel').fill('Ruit van de hal ingegooid');
    await page.getByLabel('Omschrijving').fill('Bewoner meldt een ingegooide ruit in de hal van Blok A.');
    await page.getByLabel('Complex').selectOption({ label: 'De Linde' });
    await page.getByRole('checkbox', { name: 'Camera hal' }).check();
    await page.getByRole('checkbox', { name: /Voordeur/ }).check();
    await page.getByRole('button', { name: 'Registreren' }).click();
    await page.getByRole('heading', { name: 'Ruit van de hal ingegooid' }).waitFor();
    incidentId = new URL(page.url()).searchParams.get('id')!;
    expect(incidentId).toBeTruthy();

    await page.getByLabel('Reden van veiligstellen').fill('Beelden nodig voor de aangifte van de ingegooide ruit.');
    await page.getByRole('button', { name: 'Veiligstellen' }).click();
    await page.getByText('De beelden en deurregistraties zijn veiliggesteld.').waitFor();
    const holds = page.getByRole('region', { name: 'Veiliggestelde beelden' });
    await holds.getByRole('cell', { name: /Camera hal/ }).waitFor();
    expect(await holds.textContent()).toContain('Voordeur');
    expect(await holds.textContent()).toContain('veiliggesteld');
    // The hold is real: the service lists it for the incident.
    const linked = await runtime.holds.list({ id: 'e2e', roles: ['huismeester'] } as never, {
      linkType: 'incident',
      linkId: incidentId,
    });
    expect(linked.filter((h) => h.active && h.cameraIds.includes(cameraId))).toHaveLength(1);
    await expectAccessible(page);
    await shot(page, 'incident-veiligstellen');
  });

  it('a caretaker views footage only after giving purpose, incident and reason, plays, steps and captures a frame, then records the finding (M 3.5, M 6.4)', async () => {
    const page = pages.huismeester!;
    // Real recordings from the running recorder.
    await waitFor(
      async () =>
        Number(
          (
            await runtime.db.kysely
              .selectFrom('segments')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('camera_id', '=', cameraId)
              .executeTakeFirstOrThrow()
          ).n,
        ) >= 2,
      30_000,
      'two recorded segments',
    );
    await page.getByRole('link', { name: 'Camerabeelden' }).click();
    await page.getByRole('heading', { name: 'Doel en reden' }).waitFor();
    // The reason form comes before any image: no player, no segment request yet.
    expect(await page.getByTestId('player').count()).toBe(0);
    await page.getByRole('checkbox', { name: 'Camera hal' }).check();
    // The incident field is a picker of open incidents.
    await page.locator('#footage-incident').selectOption(incidentId);
    // The form fills in whole minutes; the demo camera started less than a minute ago.
    await page.locator('#footage-to').fill(isoLocal(new Date(Date.now() + MINUTE)));
    await page.locator('#footage-reason').fill('Nagaan wie de ruit van de hal heeft ingegooid.');
    await expectAccessible(page);
    await shot(page, 'camerabeelden-doel');
    await page.getByRole('button', { name: 'Beelden openen' }).click();
    await page.getByText('Deze inzage is vastgelegd in het logboek.').waitFor();
    const recorded = page.getByRole('button', { name: /opnamen aanwezig/ });
    await recorded
      .first()
      .waitFor({ timeout: 40_000 })
      .catch(async (error: unknown) => {
        console.error(await page.locator('main').innerText());
        throw error;
      });
    // Live view is for technical checks only (M 6.5): not offered for an incident assessment.
    expect(await page.getByRole('button', { name: 'Live bekijken' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Afspelen vanaf het begin' }).click();
    await expect
      .poll(() => page.evaluate<number>("document.querySelector('[data-testid=player]').currentTime"), {
        timeout: 20_000,
      })
      .toBeGreaterThan(0.3);
    await page.getByRole('button', { name: 'Beeldje vooruit' }).click();
    expect(await page.evaluate<boolean>("document.querySelector('[data-testid=player]').paused")).toBe(true);
    await page.getByLabel('Snelheid').selectOption('2');
    expect(await page.evaluate<number>("document.querySelector('[data-testid=player]').playbackRate")).toBe(2);
    // The shown moment in wall-clock time, placed from the recordings' start.
    await expect.poll(() => page.getByTestId('position').textContent()).toMatch(/\d\d:\d\d:\d\d/);
    await page.getByRole('button', { name: 'Stilstaand beeld maken' }).click();
    const still = page.getByRole('img', { name: /Stilstaand beeld van Camera hal/ });
    await still.waitFor().catch(async (error: unknown) => {
      console.error(
        'STILL',
        await page.getByRole('alert').allTextContents(),
        await page.getByTestId('position').textContent(),
      );
      throw error;
    });
    await expect.poll(() => page.evaluate<number>("document.querySelector('figure.still img').naturalWidth")).toBe(320);
    await expectAccessible(page);
    await shot(page, 'camerabeelden');

    await page.getByRole('button', { name: 'Beelden sluiten' }).click();
    await page.getByRole('heading', { name: 'Wat heeft u vastgesteld?' }).waitFor();
    expect(await page.getByTestId('player').count()).toBe(0);
    await page.getByLabel('Uw bevinding').fill('Op de beelden is te zien hoe een persoon de ruit ingooit.');
    await page.getByRole('button', { name: 'Bevinding vastleggen' }).click();
    await page.getByText('Uw bevinding is vastgelegd').waitFor();
  }, 90_000);

  it('a manager sees the footage consultation in the logbook with its finding and signs it (M 6.4)', async () => {
    const page = pages.manager!;
    await page.getByRole('link', { name: 'Logboek', exact: true }).click();
    const entry = page.getByTestId('logbook-entry').filter({ hasText: 'Nagaan wie de ruit' });
    await entry.waitFor();
    expect(await entry.textContent()).toContain('Op de beelden is te zien');
    expect(await entry.textContent()).toContain('huismeester');
    await entry.getByRole('button', { name: /aftekenen/ }).click();
    await page.getByText(/is afgetekend/).waitFor();
    await expect.poll(() => entry.textContent()).toContain('afgetekend');
  });

  it('a lawyer exports the window for the incident, sees progress and the manifest, and the downloaded files verify', async () => {
    const page = await newPage();
    await firstSignInWithTotp(page, links.jurist!);
    await page.getByRole('link', { name: 'Camerabeelden' }).click();
    await page.getByRole('checkbox', { name: 'Camera hal' }).check();
    // A lawyer may not list incidents: the incident number is typed.
    await page.locator('#footage-incident').fill(incidentId);
    await page.locator('#footage-reason').fill('Beelden voor de aangifte bij de politie.');
    const from = new Date(Date.now() - 2 * MINUTE);
    await page.locator('#footage-from').fill(isoLocal(from));
    await page.locator('#footage-to').fill(isoLocal(new Date(Date.now() + MINUTE)));
    await page.getByRole('button', { name: 'Beelden openen' }).click();
    await page.getByText('Deze inzage is vastgelegd in het logboek.').waitFor();
    await page.getByRole('button', { name: 'Export maken' }).click();
    await page.getByText('Export klaar').waitFor({ timeout: 60_000 });
    await page.getByTestId('export-manifest').waitFor();
    expect(await page.getByTestId('export-manifest').textContent()).toContain('protocam-export/1');
    await page.getByText('protocam export verify <map>').waitFor();
    await expectAccessible(page);
    await shot(page, 'export');

    const folder = mkdtempSync(join(tmpdir(), 'protocam-e2e-export-'));
    try {
      await page.locator('a[download="manifest.sig"]').waitFor();
      const names = await page.evaluate<string[]>(
        "[...document.querySelectorAll('a[download]')].map((a) => a.getAttribute('download')).filter((n) => !n.endsWith('.jpg'))",
      );
      expect(names).toEqual(expect.arrayContaining(['manifest.json', 'manifest.sig', `camera-${cameraId}.mp4`]));
      for (const name of names) {
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.locator(`a[download="${name}"]`).click(),
        ]);
        await download.saveAs(join(folder, name));
      }
      const pem = await page.evaluate<string>(
        "fetch('/api/exports/public-key').then((r) => r.json()).then((b) => b.pem)",
      );
      const result = await verifyExport(folder, createPublicKey(pem));
      expect(result.problems).toEqual([]);
      expect(result.ok).toBe(true);
      expect(result.verifiedFiles).toBe(1);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 120_000);

  it('maintenance watches live for a technical check (M 6.5) and sees camera health per complex', async () => {
    const page = pages.onderhoud!;
    await page.getByRole('link', { name: 'Overzicht' }).click();
    await page.getByRole('heading', { name: 'Camera’s per complex' }).waitFor();
    await expect.poll(() => page.getByTestId('health-summary').first().textContent()).toContain('neemt op: 1');
    await page.getByRole('link', { name: 'Camerabeelden' }).click();
    await page.getByRole('checkbox', { name: 'Camera hal' }).check();
    await page.locator('#footage-to').fill(isoLocal(new Date(Date.now() + MINUTE)));
    await page.locator('#footage-reason').fill('Controle of de camera in de hal beeld geeft na de storing.');
    await page.getByRole('button', { name: 'Beelden openen' }).click();
    await page.getByRole('button', { name: 'Live bekijken' }).click();
    await expect
      .poll(() => page.evaluate<number>("document.querySelector('[data-testid=player]').currentTime"), {
        timeout: 20_000,
      })
      .toBeGreaterThan(0.3);
    expect(await page.getByTestId('position').textContent()).toContain('Live');
    await expectAccessible(page);
  }, 60_000);

  it('a caretaker who closed the finding prompt finds the open entry on the dashboard and records it there (M 6.4)', async () => {
    const page = pages.huismeester!;
    const user = await runtime.db.kysely
      .selectFrom('users')
      .select(['id', 'display_name'])
      .where('username', '=', 'huismeester')
      .executeTakeFirstOrThrow();
    // A consultation whose finding was never recorded (e.g. the browser was closed after viewing).
    const outcome = await runtime.gate.requestAccess(
      {
        userId: user.id,
        username: 'huismeester',
        displayName: user.display_name,
        roles: ['huismeester'],
        sessionId: 'e2e',
        secondFactorDone: true,
      },
      {
        purpose: 'incident-assessment',
        category: 'footage',
        scope: { cameraIds: [cameraId] },
        from: Date.now() - 10 * MINUTE,
        to: Date.now() - MINUTE,
        reason: 'Nogmaals bekijken: wie liep er om 10 uur door de hal?',
        incidentId,
      },
    );
    expect(outcome.status).toBe('granted');
    await page.goto(`${server.url}/`);
    const card = page.getByRole('region', { name: 'Wacht op uw bevinding' });
    await card.getByText('Nogmaals bekijken: wie liep er om 10 uur door de hal?').waitFor();
    await expectAccessible(page);
    const form = card.getByRole('listitem').filter({ hasText: 'Nogmaals bekijken' });
    await form.getByLabel('Uw bevinding').fill('Niemand te zien tussen 9:50 en 10:10.');
    await form.getByRole('button', { name: 'Bevinding vastleggen' }).click();
    await card.getByText('Uw bevinding is vastgelegd').waitFor();
    if (outcome.status !== 'granted') throw new Error('expected a grant');
    const open = await runtime.logbook.awaitingMyFinding({
      userId: user.id,
      username: 'huismeester',
      displayName: user.display_name,
      roles: ['huismeester'],
      sessionId: 'e2e',
      secondFactorDone: true,
    });
    expect(open.map((e) => e.entryId)).not.toContain(outcome.entryId);
  });

  it('the caretaker releases the hold with a reason, closes the incident with its outcome and reopens it', async () => {
    const page = pages.huismeester!;
    await page.getByRole('link', { name: 'Veiliggestelde beelden' }).click();
    const row = page.getByRole('row', { name: /Camera hal/ });
    await row.waitFor();
    await expectAccessible(page);
    await shot(page, 'veiliggestelde-beelden');
    await row.getByRole('button', { name: 'Vrijgeven' }).click();
    await page
      .getByLabel('Waarom mag dit worden vrijgegeven?')
      .fill('Aangifte gedaan; politie heeft de export ontvangen.');
    await page.getByRole('button', { name: 'Vrijgeven' }).last().click();
    await expect.poll(() => page.getByRole('row', { name: /Camera hal/ }).count()).toBe(0);

    await page.goto(`${server.url}/incidents?id=${incidentId}`);
    await page.getByLabel('Uitkomst').selectOption('no-further-action');
    await page.getByRole('button', { name: 'Afhandelen en sluiten' }).click();
    await expect.poll(() => page.getByTestId('incident-status').textContent()).toContain('gesloten');
    expect(await page.getByTestId('incident-status').textContent()).toContain('geen verdere actie');

    // New evidence: the incident is reopened with a reason and is open again.
    await page.getByLabel('Waarom wordt het incident heropend?').fill('De bewoner meldt een tweede getuige.');
    await page.getByRole('button', { name: 'Heropenen' }).click();
    await expect.poll(() => page.getByTestId('incident-status').textContent()).toMatch(/^open/i);
    await expectAccessible(page);
  });

  it('works on a 390-pixel-wide phone: no sideways scrolling of the page, no serious accessibility violations', async () => {
    const page = await newPage(PHONE);
    const fits = async () => {
      const width = await page.evaluate<number>('document.documentElement.scrollWidth');
      expect(width).toBeLessThanOrEqual(PHONE.width);
    };
    // The code step of a user with TOTP (the manager enrolled above).
    await page.goto(server.url + '/');
    await page.getByLabel('Gebruikersnaam').fill('manager');
    await page.getByLabel('Wachtwoord').fill(PASSWORD);
    await page.getByRole('button', { name: 'Aanmelden' }).click();
    await page.getByRole('heading', { name: 'Code uit de authenticator-app' }).waitFor();
    await fits();
    await expectAccessible(page);
    await page.getByRole('button', { name: 'Afmelden' }).click();
    await page.getByText('U bent afgemeld.').waitFor();

    await page.getByLabel('Gebruikersnaam').fill('admin');
    await page.getByLabel('Wachtwoord').fill(PASSWORD);
    await page.getByRole('button', { name: 'Aanmelden' }).click();
    await page.getByRole('heading', { name: 'Overzicht' }).waitFor();
    await fits();
    await expectAccessible(page);
    await shot(page, 'telefoon-overzicht');
    await page.getByRole('link', { name: 'Register' }).click();
    await page.getByRole('row', { name: /Hal begane grond/ }).waitFor();
    await fits();
    await expectAccessible(page);
    await shot(page, 'telefoon-register');

    // The caretaker's screens at phone width (the same signed-in page: a TOTP code cannot be used twice).
    const caretaker = pages.huismeester!;
    await caretaker.setViewportSize(PHONE);
    try {
      const fitsPhone = async () => {
        const width = await caretaker.evaluate<number>('document.scrollingElement.scrollWidth');
        expect(width).toBeLessThanOrEqual(PHONE.width);
      };
      await caretaker.goto(server.url + '/');
      await caretaker.getByRole('heading', { name: 'Overzicht' }).waitFor();
      await fitsPhone();
      await expectAccessible(caretaker);
      await caretaker.goto(server.url + '/footage');
      await caretaker.getByRole('heading', { name: 'Camerabeelden bekijken' }).waitFor();
      await caretaker.locator('textarea').first().waitFor();
      await fitsPhone();
      await expectAccessible(caretaker);
      await shot(caretaker, 'telefoon-camerabeelden');
      await caretaker.goto(`${server.url}/incidents?status=all`);
      await caretaker.getByRole('row', { name: /Ruit van de hal ingegooid/ }).waitFor();
      await fitsPhone();
      await expectAccessible(caretaker);
      await caretaker.goto(`${server.url}/incidents?id=${incidentId}`);
      await caretaker.getByRole('heading', { name: 'Ruit van de hal ingegooid' }).waitFor();
      await fitsPhone();
      await expectAccessible(caretaker);
      await shot(caretaker, 'telefoon-incident');
      await caretaker.goto(`${server.url}/holds`);
      await caretaker.getByRole('heading', { name: 'Veiliggestelde beelden' }).waitFor();
      await fitsPhone();
      await expectAccessible(caretaker);
    } finally {
      await caretaker.setViewportSize(DESKTOP);
    }
  });

  it('after a session expires the next action returns to sign-in with a message', async () => {
    const page = await newPage();
    await page.goto(server.url + '/');
    await page.getByLabel('Gebruikersnaam').fill('admin');
    await page.getByLabel('Wachtwoord').fill(PASSWORD);
    await page.getByRole('button', { name: 'Aanmelden' }).click();
    await page.getByRole('heading', { name: 'Overzicht' }).waitFor();
    await runtime.db.kysely
      .updateTable('sessions')
      .set({ expires_at: Date.now() - 1000 })
      .execute();
    await page.getByRole('link', { name: 'Register' }).click();
    await page.getByText('Uw sessie is verlopen. Meld u opnieuw aan.').waitFor();
    await page.getByRole('heading', { name: 'Aanmelden' }).waitFor();
  });

  it('the app switches to English, and no page error or CSP violation happened', async () => {
    const page = await newPage();
    await page.goto(server.url + '/');
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate<string>('document.documentElement.lang')).toBe('en');
    expect(pageErrors).toEqual([]);
  });
});
