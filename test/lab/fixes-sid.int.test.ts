/** The fix scripts on the sid node, under real systemd (see ./fixes.ts). */
import { defineFixTests } from './fixes.js';

defineFixTests('sid');
