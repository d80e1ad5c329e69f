/**
 * A printable logbook for signing on paper (M 6.4): one block per consultation with who,
 * roles, when, purpose, scope, reason, finding, and a signature line. Times are shown in
 * Europe/Amsterdam (with UTC offset), as staff read them. Pure CPU work: no files, no DB.
 */
import PDFDocument from 'pdfkit';
import type { ChainSignature } from './logbook.repository.js';
import type { EntryView } from './logbook.service.js';

const AMSTERDAM = new Intl.DateTimeFormat('nl-NL', {
  timeZone: 'Europe/Amsterdam',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  timeZoneName: 'shortOffset',
});

export const localTime = (ms: number | null | undefined): string =>
  ms === null || ms === undefined ? '-' : AMSTERDAM.format(new Date(ms));

export interface PdfInput {
  policyName: string;
  generatedAt: number;
  entries: EntryView[];
  signedHead: ChainSignature | null;
}

export function renderLogbookPdf(input: PdfInput): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({ size: 'A4', margin: 50, info: { Title: 'Logboek cameratoezicht / Camera logbook' } });
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);

    doc.font('Helvetica-Bold').fontSize(16).text('Logboek raadplegingen / Consultation logbook');
    doc.font('Helvetica').fontSize(9).fillColor('#444');
    doc.text(`${input.policyName} - M 6.4`);
    doc.text(`Gegenereerd / generated: ${localTime(input.generatedAt)} - ${input.entries.length} entries`);
    if (input.signedHead) {
      doc.text(
        `Laatst ondertekende keten-kop / last signed chain head: record ${input.signedHead.seq}, ${input.signedHead.hash}`,
      );
    }
    doc.fillColor('black').moveDown();

    for (const e of input.entries) {
      if (doc.y > doc.page.height - 220) doc.addPage();
      const scope = [
        e.scope.cameraIds?.length ? `cameras: ${e.scope.cameraIds.join(', ')}` : '',
        e.scope.doorIds?.length ? `doors: ${e.scope.doorIds.join(', ')}` : '',
        e.scope.tag ? `tag: ${e.scope.tag}` : '',
      ].filter(Boolean);
      const links = [
        e.incidentId ? `incident ${e.incidentId}` : '',
        e.requestId ? `request ${e.requestId}` : '',
        e.disclosureId ? `disclosure ${e.disclosureId}` : '',
      ].filter(Boolean);
      doc
        .font('Helvetica-Bold')
        .fontSize(10)
        .text(`#${e.seq}  ${localTime(e.occurredAt)}  ${e.userLabel} (${e.roles.join(', ')})`);
      doc.font('Helvetica').fontSize(9);
      doc.text(`Doel / purpose: ${e.purpose ?? '-'}    Gegevens / data: ${e.category ?? '-'}`);
      doc.text(
        `Bereik / scope: ${scope.join('; ') || '-'}    Periode / window: ${localTime(e.from)} - ${localTime(e.to)}`,
      );
      if (links.length) doc.text(`Koppeling / linked: ${links.join('; ')}`);
      doc.text(`Reden / reason: ${e.reason ?? '-'}`);
      doc.text(
        `Constatering / finding: ${e.finding ? `${e.finding.text} (${e.finding.byLabel}, ${localTime(e.finding.at)})` : '(nog niet vastgelegd / not yet recorded)'}`,
      );
      if (e.signature) {
        doc.text(`Digitaal ondertekend / signed: ${e.signature.byLabel}, ${localTime(e.signature.at)}`);
      }
      doc.text(`Entry ${e.entryId}`, { continued: false });
      doc.moveDown(1.2);
      const y = doc.y;
      doc
        .moveTo(doc.page.margins.left, y)
        .lineTo(doc.page.margins.left + 220, y)
        .stroke();
      doc
        .moveTo(doc.page.margins.left + 260, y)
        .lineTo(doc.page.margins.left + 400, y)
        .stroke();
      doc.fontSize(8).text('Handtekening manager / signature', doc.page.margins.left, y + 3);
      doc.text('Datum / date', doc.page.margins.left + 260, y + 3);
      doc.x = doc.page.margins.left;
      doc.moveDown(1.5);
    }
    doc.end();
  });
}
