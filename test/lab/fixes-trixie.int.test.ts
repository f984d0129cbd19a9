/** The fix scripts on the trixie node, under real systemd (see ./fixes.ts). */
import { defineFixTests } from './fixes.js';

defineFixTests('trixie');
