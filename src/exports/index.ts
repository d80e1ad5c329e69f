/** Public API of signed exports (issue 4). */
export { FfmpegExportCutter, type ExportCutter } from './export-cutter.js';
export { exportRoutes } from './exports.routes.js';
export { ExportService, type ExportDeps, type ExportView, type StartExportInput } from './exports.service.js';
export { exportVerifyCommand, loadVerifyKey, verifyExport, type ExportVerifyResult } from './exports.verify.js';
export { EXPORT_PURPOSES, keyFingerprint, MANIFEST_FILE, SIGNATURE_FILE, type Manifest } from './exports.rules.js';
