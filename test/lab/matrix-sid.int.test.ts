/** The fault matrix on the sid node (see ./matrix.ts). */
import { defineMatrix } from './matrix.js';

defineMatrix('sid');
