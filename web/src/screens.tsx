/**
 * Every screen of the app in one table: its path, its menu label, who may use it, and its
 * component. The menu shows only screens whose `allowed` holds for the signed-in user; a
 * direct URL to any other screen shows a refusal (and the API refuses as well: this table is
 * a convenience, not a guard). To add a screen: write the component under screens/, add its
 * strings to i18n/nl.ts and i18n/en.ts, and add one row here.
 */
import type { ComponentType } from 'react';
import type { MessageKey } from './i18n';
import { can, mayUsePurpose, type Permissions } from './lib/session';
import { AuditScreen } from './screens/Audit';
import { Dashboard } from './screens/Dashboard';
import { DoorEventsScreen } from './screens/DoorEvents';
import { FootageScreen } from './screens/Footage';
import { HoldsScreen, IncidentsScreen } from './screens/Incidents';
import { KeyTagsScreen } from './screens/KeyTags';
import { LogbookScreen } from './screens/Logbook';
import { PolicyScreen } from './screens/Policy';
import { RegistryScreen } from './screens/Registry';
import { SourcesScreen } from './screens/Sources';
import { UsersScreen } from './screens/Users';

export interface Screen {
  path: string;
  label: MessageKey;
  /** `main`: daily work; `admin`: administration, shown as its own group in the menu. */
  group: 'main' | 'admin';
  allowed: (permissions: Permissions) => boolean;
  component: ComponentType;
}

const signedIn = () => true;
const admin = (p: Permissions) => p.admin;

export const SCREENS: Screen[] = [
  { path: '/', label: 'nav.dashboard', group: 'main', allowed: signedIn, component: Dashboard },
  { path: '/registry', label: 'nav.registry', group: 'main', allowed: signedIn, component: RegistryScreen },
  {
    path: '/footage',
    label: 'nav.footage',
    group: 'main',
    allowed: (p) => p.purposes.some((purpose) => purpose.categories.includes('footage')),
    component: FootageScreen,
  },
  {
    path: '/incidents',
    label: 'nav.incidents',
    group: 'main',
    allowed: (p) => can(p, 'manage-incidents') || can(p, 'secure-footage'),
    component: IncidentsScreen,
  },
  {
    path: '/holds',
    label: 'nav.holds',
    group: 'main',
    allowed: (p) => can(p, 'secure-footage') || can(p, 'manage-incidents'),
    component: HoldsScreen,
  },
  {
    path: '/door-events',
    label: 'nav.doorEvents',
    group: 'main',
    allowed: (p) => mayUsePurpose(p, 'tag-function-check') || mayUsePurpose(p, 'calamity-witness-search'),
    component: DoorEventsScreen,
  },
  {
    path: '/logbook',
    label: 'nav.logbook',
    group: 'main',
    allowed: (p) => can(p, 'read-logbook'),
    component: LogbookScreen,
  },
  { path: '/policy', label: 'nav.policy', group: 'main', allowed: signedIn, component: PolicyScreen },
  { path: '/admin/users', label: 'nav.users', group: 'admin', allowed: admin, component: UsersScreen },
  { path: '/admin/key-tags', label: 'nav.keyTags', group: 'admin', allowed: admin, component: KeyTagsScreen },
  { path: '/admin/sources', label: 'nav.sources', group: 'admin', allowed: admin, component: SourcesScreen },
  { path: '/admin/audit', label: 'nav.audit', group: 'admin', allowed: admin, component: AuditScreen },
];

export const screenFor = (path: string): Screen | undefined =>
  SCREENS.find((screen) => screen.path === (path.length > 1 ? path.replace(/\/+$/, '') : path));
