/** Public API of incidents (issue 6). */
export { IncidentService, type IncidentDeps, type IncidentView, type IncidentDetail } from './incidents.service.js';
export { incidentRoutes } from './incidents.routes.js';
export { INCIDENT_KINDS, OUTCOMES, REPORTER_KINDS } from './incidents.rules.js';
