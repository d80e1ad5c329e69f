/** Public API of holds (veiligstellen, W 2.4, M 2.4; issue 6). */
export { HoldService, type HoldDeps, type HoldView } from './holds.service.js';
export { holdRoutes } from './holds.routes.js';
export { isEventHeld, isSegmentHeld, type HoldScope } from './holds.rules.js';
