/** The fault matrix on the trixie node (see ./matrix.ts). */
import { defineMatrix } from './matrix.js';

defineMatrix('trixie');
