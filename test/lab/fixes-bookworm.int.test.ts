/** The fix scripts on the bookworm node, under real systemd (see ./fixes.ts). */
import { defineFixTests } from './fixes.js';

defineFixTests('bookworm');
